/**
 * One PostgreSQL cluster on disk and its postmaster: `initdb`, start, stop (smart, fast or
 * immediate), so that a scope (or a fault test) controls the server's whole life.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"
import { chownSync, mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { ServerUser } from "./serverUser.js"

/** What a cluster is made of. */
export interface ClusterSpec {
  /** Directory holding `initdb` and `postgres`. */
  readonly bin: string
  /** Directory of the cluster's files (created; the server's user owns it). */
  readonly dataDirectory: string
  readonly port: number
  /** Password of the `postgres` superuser (scram-sha-256). */
  readonly password: string
  /** Server settings, as `-c name=value`. */
  readonly settings: Readonly<Record<string, string>>
  readonly user: ServerUser
  /** Receives the server's output, for error reports. */
  readonly onOutput: (text: string) => void
  /** Deleted, with the server stopped, should this process die without stopping it. */
  readonly removeOnOrphan?: string
}

/** A failure of one step, with a one-line reason. */
export class ClusterError extends Error {}

const environment = () => ({ ...process.env, LC_ALL: "C", LC_MESSAGES: "C" })

const run = (spec: ClusterSpec, file: string, args: ReadonlyArray<string>) =>
  Effect.async<void, ClusterError>((resume) => {
    const child = spawn(join(spec.bin, file), args, { ...(spec.user ?? {}), env: environment(), stdio: ["ignore", "pipe", "pipe"] })
    child.stdout.on("data", (chunk: Buffer) => spec.onOutput(chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => spec.onOutput(chunk.toString("utf8")))
    child.on("error", (error) => resume(Effect.fail(new ClusterError(`${file} could not be started: ${error.message}`))))
    child.on("close", (code, signal) =>
      resume(
        code === 0
          ? Effect.void
          : Effect.fail(new ClusterError(`${file} failed (exit code ${code ?? "none"}${signal ? `, signal ${signal}` : ""})`))
      ))
  })

/** Creates the cluster's files; runs to its end once started (a half-made directory helps nobody). */
export const initdb = (spec: ClusterSpec): Effect.Effect<void, ClusterError> =>
  Effect.suspend(() => {
    mkdirSync(spec.dataDirectory, { recursive: true, mode: 0o700 })
    const passwordFile = `${spec.dataDirectory}.pwfile`
    writeFileSync(passwordFile, `${spec.password}\n`, { mode: 0o600 })
    if (spec.user) {
      chownSync(spec.dataDirectory, spec.user.uid, spec.user.gid)
      chownSync(passwordFile, spec.user.uid, spec.user.gid)
    }
    return run(spec, "initdb", [
      `--pgdata=${spec.dataDirectory}`,
      "--auth=scram-sha-256",
      "--username=postgres",
      `--pwfile=${passwordFile}`,
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync"
    ]).pipe(Effect.ensuring(Effect.sync(() => rmSync(passwordFile, { force: true }))))
  }).pipe(Effect.uninterruptible)

/** A running postmaster. */
export interface Postmaster {
  readonly process: ChildProcess
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>
  /** Holds a pipe from this process: when it closes (this process died, however), the server is stopped. */
  readonly watchdog: ChildProcess
}

/**
 * A tiny shell process that waits for end-of-file on a pipe from this process and then stops the
 * postmaster (and deletes `directory`). A killed test run or CLI (SIGKILL, a CI timeout) thus never
 * leaves a server behind, without this library installing process-wide signal handlers.
 */
const startWatchdog = (pid: number, directory: string | undefined): ChildProcess => {
  const script = [
    "cat > /dev/null",
    "kill -QUIT \"$1\" 2> /dev/null",
    "i=0; while kill -0 \"$1\" 2> /dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done",
    "kill -KILL \"$1\" 2> /dev/null",
    "[ -n \"$2\" ] && rm -rf \"$2\"",
    "exit 0"
  ].join("; ")
  const watchdog = spawn("/bin/sh", ["-c", script, "sh", String(pid), directory ?? ""], {
    stdio: ["pipe", "ignore", "ignore"],
    detached: true
  })
  watchdog.unref()
  ;(watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.()
  watchdog.on("error", () => {})
  return watchdog
}

/** Spawns the postmaster; it is ready once it accepts connections (the caller checks that). */
export const startPostmaster = (spec: ClusterSpec): Effect.Effect<Postmaster, ClusterError> =>
  Effect.suspend(() => {
    const child = spawn(
      join(spec.bin, "postgres"),
      ["-D", spec.dataDirectory, "-p", String(spec.port), ...Object.entries(spec.settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])],
      { ...(spec.user ?? {}), env: environment(), stdio: ["ignore", "pipe", "pipe"] }
    )
    child.stdout.on("data", (chunk: Buffer) => spec.onOutput(chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => spec.onOutput(chunk.toString("utf8")))
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve()
      child.on("exit", () => resolve())
      child.on("error", () => resolve())
    })
    return Effect.async<Postmaster, ClusterError>((resume) => {
      child.once("spawn", () =>
        resume(Effect.succeed({ process: child, exited, watchdog: startWatchdog(child.pid!, spec.removeOnOrphan) })))
      child.once("error", (error) => resume(Effect.fail(new ClusterError(`postgres could not be started: ${error.message}`))))
    })
  })

/** Whether the postmaster has exited. */
export const hasExited = (postmaster: Postmaster): boolean =>
  postmaster.process.exitCode !== null || postmaster.process.signalCode !== null

const signals = { smart: "SIGTERM", fast: "SIGINT", immediate: "SIGQUIT" } as const

/**
 * Stops the postmaster in PostgreSQL's `smart`, `fast` or `immediate` mode and waits for it to exit,
 * killing it after `graceMillis`.
 */
export const stopPostmaster = (
  postmaster: Postmaster,
  mode: keyof typeof signals = "fast",
  graceMillis = 20_000
): Effect.Effect<void> =>
  Effect.promise(async () => {
    if (hasExited(postmaster)) return void postmaster.watchdog.kill("SIGKILL")
    postmaster.process.kill(signals[mode])
    let timer: ReturnType<typeof setTimeout> | undefined
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (!hasExited(postmaster)) postmaster.process.kill("SIGKILL")
        resolve()
      }, graceMillis)
    })
    await Promise.race([postmaster.exited, killed])
    clearTimeout(timer)
    await postmaster.exited
    postmaster.watchdog.kill("SIGKILL")
  })
