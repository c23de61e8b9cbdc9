/**
 * A primary and its standbys, made with the machine's PostgreSQL binaries (`pg_config --bindir`,
 * PostgreSQL 15 on Debian 12): `initdb` for the primary, `pg_basebackup -R` for each standby, random
 * ports. A standby either streams from the primary (through a physical replication slot when asked)
 * or is told to stream from a port where nothing listens, so that its WAL receiver never connects.
 * As root, the servers run as the `postgres` user.
 */
import { Effect, type Scope } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Pg from "pg"
import * as EmbeddedPostgres from "../../src/EmbeddedPostgres.js"
import {
  type ClusterSpec,
  hasExited,
  initdb,
  type Postmaster,
  startPostmaster,
  stopPostmaster
} from "../../src/internal/embedded/cluster.js"
import { serverUser } from "../../src/internal/embedded/serverUser.js"

/** One running server of the pair. */
export interface Node {
  /** Superuser URL of its `postgres` database. */
  readonly url: string
  readonly port: number
  /** Runs statements as superuser on a connection of its own. */
  readonly query: <A = Record<string, unknown>>(text: string) => Effect.Effect<ReadonlyArray<A>>
  readonly stop: Effect.Effect<void>
  readonly start: Effect.Effect<void>
  /** `pg_ctl promote -w`: a standby becomes a primary (returns once it accepts writes). */
  readonly promote: Effect.Effect<void>
}

export interface Primary extends Node {
  readonly major: number
  /** A standby made with `pg_basebackup -R`, stopped and removed with the scope. */
  readonly standby: (options: {
    readonly mode: "streaming" | "disconnected"
    /** A physical replication slot (created here) the standby streams through. */
    readonly slot?: string
  }) => Effect.Effect<Node, never, Scope.Scope>
}

const bindir = (): string => execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim()
const majorOf = (bin: string): number =>
  Number(/PostgreSQL\)?\s+(\d+)/.exec(execFileSync(join(bin, "postgres"), ["--version"], { encoding: "utf8" }))?.[1] ?? 0)

const connectOnce = async (url: string) => {
  const client = new Pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  client.on("error", () => {})
  await client.connect()
  return client
}

const queryOnce = <A>(url: string, text: string) =>
  Effect.promise(async () => {
    const client = await connectOnce(url)
    try {
      return (await client.query(text)).rows as ReadonlyArray<A>
    } finally {
      await client.end().catch(() => {})
    }
  })

/** Starts a postmaster on `spec` as a scoped resource, and the node's controls. */
const node = (spec: ClusterSpec, url: string, output: Array<string>): Effect.Effect<Node, never, Scope.Scope> =>
  Effect.gen(function*() {
    let postmaster: Postmaster | undefined
    const waitReady = Effect.promise(async () => {
      for (let i = 0; i < 600; i++) {
        if (postmaster && hasExited(postmaster)) throw new Error(`server on port ${spec.port} exited: ${output.join("").slice(-2000)}`)
        try {
          const client = await connectOnce(url)
          await client.end()
          return
        } catch {
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      throw new Error(`server on port ${spec.port} did not start: ${output.join("").slice(-2000)}`)
    })
    const start = Effect.gen(function*() {
      postmaster = yield* startPostmaster(spec).pipe(Effect.orDie)
      yield* waitReady
    })
    const stop = Effect.suspend(() => (postmaster ? stopPostmaster(postmaster, "fast", 10_000) : Effect.void))
    yield* Effect.acquireRelease(start, () => Effect.suspend(() => (postmaster ? stopPostmaster(postmaster, "immediate", 10_000) : Effect.void)))
    const promote = run(join(spec.bin, "pg_ctl"), ["promote", "-w", "-t", "60", "-D", spec.dataDirectory], spec.user, {})
    return { url, port: spec.port, query: <A>(text: string) => queryOnce<A>(url, text), stop, start, promote }
  })

const run = (file: string, args: ReadonlyArray<string>, user: ReturnType<typeof serverUser>, env: Record<string, string>) =>
  Effect.async<void>((resume) => {
    const output: Array<string> = []
    const child = spawn(file, args, { ...(user ?? {}), env: { ...process.env, LC_ALL: "C", ...env }, stdio: ["ignore", "pipe", "pipe"] })
    child.stdout.on("data", (d: Buffer) => output.push(d.toString()))
    child.stderr.on("data", (d: Buffer) => output.push(d.toString()))
    child.on("error", (error) => resume(Effect.die(error)))
    child.on("close", (code) =>
      resume(code === 0 ? Effect.void : Effect.die(new Error(`${file} failed (${code}): ${output.join("").slice(-2000)}`))))
  })

/** A primary (PostgreSQL from `pg_config --bindir`), stopped and removed with the scope. */
export const make = (settings: Readonly<Record<string, string>> = {}): Effect.Effect<Primary, never, Scope.Scope> =>
  Effect.gen(function*() {
    const bin = bindir()
    const major = majorOf(bin)
    const user = serverUser(true)
    const directory = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const directory = mkdtempSync(join(tmpdir(), "standby-pair-"))
        chmodSync(directory, 0o755)
        return directory
      }),
      (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
    )
    const password = randomBytes(12).toString("hex")
    const common = { listen_addresses: "127.0.0.1", unix_socket_directories: "", fsync: "off", full_page_writes: "off" }
    const output: Array<string> = []
    const onOutput = (text: string) => {
      output.push(text)
      if (output.length > 80) output.shift()
    }
    const port = yield* EmbeddedPostgres.freePort
    const spec: ClusterSpec = {
      bin,
      dataDirectory: join(directory, "primary"),
      port,
      password,
      settings: { ...common, wal_level: "replica", max_wal_senders: "10", wal_keep_size: "0", ...settings },
      user,
      onOutput
    }
    yield* initdb(spec).pipe(Effect.orDie)
    const urlOf = (p: number) => `postgres://postgres:${password}@127.0.0.1:${p}/postgres`
    const primary = yield* node(spec, urlOf(port), output)
    let count = 0

    const standby = (options: { readonly mode: "streaming" | "disconnected"; readonly slot?: string }) =>
      Effect.gen(function*() {
        const name = `standby${++count}`
        const dataDirectory = join(directory, name)
        mkdirSync(dataDirectory, { mode: 0o700 })
        if (user) chownSync(dataDirectory, user.uid, user.gid)
        if (options.slot) yield* primary.query(`SELECT pg_create_physical_replication_slot('${options.slot}')`)
        yield* run(join(bin, "pg_basebackup"), [
          "-D", dataDirectory, "-R", "-X", "stream", "-c", "fast", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres",
          ...(options.slot ? ["-S", options.slot] : [])
        ], user, { PGPASSWORD: password })
        const standbyPort = yield* EmbeddedPostgres.freePort
        const nowhere = yield* EmbeddedPostgres.freePort // nothing listens there
        const standbyOutput: Array<string> = []
        const standbyNode = yield* node(
          {
            ...spec,
            dataDirectory,
            port: standbyPort,
            settings: {
              ...common,
              hot_standby: "on",
              ...(options.mode === "disconnected"
                ? { primary_conninfo: `host=127.0.0.1 port=${nowhere} user=postgres connect_timeout=2` }
                : {})
            },
            onOutput: (text) => {
              standbyOutput.push(text)
              if (standbyOutput.length > 80) standbyOutput.shift()
            }
          },
          urlOf(standbyPort),
          standbyOutput
        )
        if (options.mode === "streaming") yield* waitStreaming(standbyNode)
        return standbyNode
      })

    return { ...primary, major, standby }
  })

/** Waits until the standby's WAL receiver streams. */
export const waitStreaming = (standby: Node): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < 400; i++) {
      const [row] = yield* standby.query<{ status: string | null }>("SELECT status FROM pg_stat_wal_receiver")
      if (row?.status === "streaming") return
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.die(new Error("the standby never started streaming"))
  })
