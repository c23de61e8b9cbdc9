/**
 * The several-host pool on a real server: which failures move a host to the back of the order.
 */
import { Effect } from "effect"
import { describe, expect, inject, it } from "vitest"
import * as EmbeddedPostgres from "../src/EmbeddedPostgres.js"
import { makeFailoverPool } from "../src/internal/failoverPool.js"

describe("failover pool", () => {
  it("a full pool's wait timing out blames no host: the working one stays first", async () => {
    const server = new URL(inject("serverUrl"))
    const deadPort = await Effect.runPromise(EmbeddedPostgres.freePort)
    const primary = { host: server.hostname, port: Number(server.port || 5432) }
    const pool = makeFailoverPool({
      user: decodeURIComponent(server.username),
      password: decodeURIComponent(server.password),
      database: decodeURIComponent(server.pathname.slice(1)) || "postgres",
      hosts: [primary, { host: "127.0.0.1", port: deadPort }],
      targetSessionAttrs: "read-write",
      max: 1,
      connectionTimeoutMillis: 300
    })
    pool.on("error", () => {})
    try {
      const held = await pool.connect()
      // The only slot is taken: the second acquisition waits for it and times out.
      const error = await pool.connect().then(() => undefined, (e: unknown) => e)
      expect(String(error)).toMatch(/timeout/)
      expect(pool.selector.candidates()[0]!.address).toEqual(primary)
      held.release()
      // The next connection still goes straight to the working host.
      const next = await pool.connect()
      expect((next as unknown as { port: number }).port).toBe(primary.port)
      next.release()
    } finally {
      await pool.end()
    }
  })
})
