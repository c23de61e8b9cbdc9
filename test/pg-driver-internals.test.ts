/**
 * What src/internal/pgConnection/driver.ts (the only module that touches node-postgres' internals) relies
 * on, checked against the installed `pg` on a real server: should an upgrade of `pg` change any of
 * it, this file fails loudly, naming the field.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import Pg from "pg"
import { inject } from "vitest"
import { isUsable, ReportingClient, serverMajorOf } from "../src/internal/pgConnection.js"

describe("node-postgres internals we rely on", () => {
  it.live("a connected client: processID and secretKey, _queryable, connection.stream, ParameterStatus reports", () =>
    Effect.promise(async () => {
      const client = new ReportingClient({ connectionString: inject("serverUrl") })
      client.on("error", () => {})
      await client.connect()
      try {
        const internals = client as unknown as {
          processID: unknown
          secretKey: unknown
          _queryable: unknown
          _ending: unknown
          connection: { stream: { destroyed: unknown; destroy: unknown } }
        }
        // The cancel request is built from these two.
        expect(typeof internals.processID).toBe("number")
        expect(typeof internals.secretKey).toBe("number")
        // isUsable reads these.
        expect(internals._queryable).toBe(true)
        expect(internals._ending).toBe(false)
        expect(internals.connection.stream.destroyed).toBe(false)
        expect(typeof internals.connection.stream.destroy).toBe("function")
        expect(isUsable(client)).toBe(true)
        // The server version comes from the start-up ParameterStatus messages.
        const [row] = (await client.query("SELECT current_setting('server_version_num')::int AS num")).rows
        expect(serverMajorOf(client)).toBe(Math.floor(row.num / 10_000))
        // A destroyed stream makes the client unusable at once.
        ;(client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
        expect(isUsable(client)).toBe(false)
      } finally {
        await client.end().catch(() => {})
      }
    }))

  it.live("pg.Pool accepts a Client class and hands it out", () =>
    Effect.promise(async () => {
      const pool = new Pg.Pool({ connectionString: inject("serverUrl"), max: 1, Client: ReportingClient })
      try {
        const client = await pool.connect()
        expect(client).toBeInstanceOf(ReportingClient)
        client.release()
      } finally {
        await pool.end()
      }
    }))
})
