/**
 * Conformance, the options that need a server configured for them: a second PostgreSQL of the run's
 * major version (see ControlledServer) with password authentication (scram-sha-256 for TCP and the
 * Unix socket), TLS with a self-signed certificate for 127.0.0.1, and a socket directory of its own.
 * `password` and `ssl` run on both layers; `path` on `Database.layer` only, because @effect/sql-pg
 * 0.53 declares `path` but never passes it to node-postgres.
 */
import { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import { layer } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Redacted } from "effect"
import { execFileSync } from "node:child_process"
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect } from "vitest"
import * as Database from "../../src/Database.js"
import { serverUser } from "../../src/internal/embedded/serverUser.js"
import * as ControlledServer from "../support/ControlledServer.js"
import { type Implementation, implementations } from "./support.js"

interface SecuredServer {
  readonly server: ControlledServer.ControlledServer
  readonly password: string
  /** The certificate the server presents (for `ssl: { ca }`). */
  readonly certificate: string
  readonly socketDirectory: string
}

class Secured extends Context.Tag("test/Secured")<Secured, SecuredServer>() {}

const SecuredLive = Layer.scoped(
  Secured,
  Effect.gen(function*() {
    const user = serverUser(true)
    const directory = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const directory = mkdtempSync(join(tmpdir(), "secured-server-"))
        chmodSync(directory, 0o755)
        return directory
      }),
      (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
    )
    const certificateFile = join(directory, "server.crt")
    const keyFile = join(directory, "server.key")
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
      "-keyout", keyFile, "-out", certificateFile,
      "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"
    ], { stdio: "ignore" })
    chmodSync(certificateFile, 0o644)
    chmodSync(keyFile, 0o600)
    const socketDirectory = join(directory, "socket")
    execFileSync("mkdir", ["-m", "0777", socketDirectory])
    if (user) {
      chownSync(keyFile, user.uid, user.gid)
      chownSync(socketDirectory, user.uid, user.gid)
    }
    const server = yield* ControlledServer.make({
      ssl: "on",
      ssl_cert_file: certificateFile,
      ssl_key_file: keyFile,
      unix_socket_directories: socketDirectory
    })
    return {
      server,
      password: decodeURIComponent(new URL(server.url).password),
      certificate: readFileSync(certificateFile, "utf8"),
      socketDirectory
    }
  })
)

interface Session {
  readonly ssl: boolean
  readonly client: string | null
  readonly usr: string
}

/** One statement through `implementation`'s layer: whether the session is on TLS, and from where. */
const session = (implementation: Implementation, options: PgClient.PgClientConfig) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<Session>`SELECT s.ssl, host(inet_client_addr()) AS client, current_user AS usr
      FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`).pipe(
      Effect.map((rows) => rows[0]!),
      Effect.provide(implementation.layer(options)),
      Effect.exit
    )

/** The failure as text: tag, message, cause's message and SQLSTATE. */
const failureText = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const error = Cause.squash(exit.cause) as { _tag?: string; message?: string; cause?: { message?: string; code?: string } }
  return `${error._tag}: ${error.message} (${error.cause?.message}, ${error.cause?.code})`
}

const fields = (secured: SecuredServer, password: string) => ({
  host: "127.0.0.1",
  port: secured.server.port,
  username: "postgres",
  password: Redacted.make(password),
  database: "postgres"
})

layer(SecuredLive, { timeout: "120 seconds", excludeTestServices: true })("PgClient conformance: a secured server", (it) => {
  for (const implementation of implementations) {
    it.effect(`the password field authenticates; a wrong one is refused (28P01) and never shown (${implementation.name})`, () =>
      Effect.gen(function*() {
        const secured = yield* Secured
        const right = yield* session(implementation, fields(secured, secured.password))
        expect(right).toEqual(Exit.succeed({ ssl: false, client: "127.0.0.1", usr: "postgres" }))
        const wrongPassword = `wrong-${secured.password}`
        const wrong = yield* session(implementation, fields(secured, wrongPassword))
        expect(failureText(wrong)).toMatch(/^SqlError: .*password authentication failed.*28P01\)$/)
        expect(JSON.stringify(wrong)).not.toContain(wrongPassword)
        expect(Exit.isFailure(wrong) ? Cause.pretty(wrong.cause) : "").not.toContain(wrongPassword)
      }))

    it.effect(`ssl: accepted without verification, refused for an untrusted certificate, accepted with its ca (${implementation.name})`, () =>
      Effect.gen(function*() {
        const secured = yield* Secured
        const url = Redacted.make(secured.server.url)
        expect(yield* session(implementation, { url, ssl: { rejectUnauthorized: false } })).toEqual(
          Exit.succeed({ ssl: true, client: "127.0.0.1", usr: "postgres" })
        )
        expect(failureText(yield* session(implementation, { url, ssl: true }))).toMatch(/^SqlError: .*self-signed certificate/)
        expect(yield* session(implementation, { url, ssl: { ca: secured.certificate } })).toEqual(
          Exit.succeed({ ssl: true, client: "127.0.0.1", usr: "postgres" })
        )
        expect(yield* session(implementation, { url, ssl: false })).toEqual(
          Exit.succeed({ ssl: false, client: "127.0.0.1", usr: "postgres" })
        )
      }))
  }

  // @effect/sql-pg 0.53 declares `path` but never hands it to node-postgres: ours only.
  const viaSocket = (path: string, password: string, port?: number) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<Session>`SELECT false AS ssl, host(inet_client_addr()) AS client, current_user AS usr`).pipe(
        Effect.map((rows) => rows[0]!),
        Effect.provide(Database.layer({ path, port, username: "postgres", password: Redacted.make(password), database: "postgres" })),
        Effect.exit
      )

  it.effect("path: Database.layer connects through the socket directory or the socket file, with password authentication", () =>
    Effect.gen(function*() {
      const secured = yield* Secured
      const local = Exit.succeed({ ssl: false, client: null, usr: "postgres" })
      expect(yield* viaSocket(secured.socketDirectory, secured.password, secured.server.port)).toEqual(local)
      expect(yield* viaSocket(`${secured.socketDirectory}/.s.PGSQL.${secured.server.port}`, secured.password)).toEqual(local)
      expect(failureText(yield* viaSocket(secured.socketDirectory, "wrong", secured.server.port))).toContain("28P01")
    }))
})
