/**
 * Reads PgBouncer's admin console (`SHOW POOLS`, `SHOW DATABASES`) on a connection of its own, for
 * one check, bounded by the probe timeout. The console speaks only the simple query protocol, which
 * is what node-postgres uses for a text without parameters. Failures are a reason (without the URL,
 * which may carry a password), never an error of the check.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import Pg from "pg"
import { destroyClient } from "../pgConnection.js"
import { type ConsoleReading, DatabaseRow, PoolRow } from "./pooler.js"

const describe = (error: unknown): string => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined
  const message = error instanceof Error ? error.message : "no answer"
  // The driver's messages name the host and port at most, never the URL's password.
  return `${typeof code === "string" ? `${code} ` : ""}${message}`.slice(0, 300)
}

/** One read of the console; never fails. */
export const readConsole = (url: Redacted.Redacted<string>, timeoutMillis: number): Effect.Effect<ConsoleReading> =>
  Effect.async<ConsoleReading>((resume) => {
    const client = new Pg.Client({ connectionString: Redacted.value(url), connectionTimeoutMillis: timeoutMillis })
    client.on("error", () => {})
    let done = false
    const finish = (reading: ConsoleReading) => {
      if (done) return
      done = true
      client.end().catch(() => {})
      resume(Effect.succeed(reading))
    }
    const timer = setTimeout(() => {
      destroyClient(client)
      finish({ failure: `no answer within ${timeoutMillis} ms` })
    }, timeoutMillis)
    ;(async () => {
      await client.connect()
      const pools = (await client.query("SHOW POOLS")).rows.map((row) => Schema.decodeUnknownSync(PoolRow)(row))
      const databases = (await client.query("SHOW DATABASES")).rows.map((row) => Schema.decodeUnknownSync(DatabaseRow)(row))
      return { pools, databases }
    })().then(
      (reading) => {
        clearTimeout(timer)
        finish(reading)
      },
      (error: unknown) => {
        clearTimeout(timer)
        finish({
          failure: ParseResult.isParseError(error)
            ? "SHOW POOLS answered in an unexpected shape (is it PgBouncer?)"
            : describe(error)
        })
      }
    )
    return Effect.sync(() => {
      clearTimeout(timer)
      done = true
      destroyClient(client)
    })
  })
