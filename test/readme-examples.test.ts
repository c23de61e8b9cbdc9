/**
 * Every TypeScript example of the README compiles under a strict user's configuration
 * (`strict`, `exactOptionalPropertyTypes`, `skipLibCheck: false`), with `effect-pg-resilience`
 * resolved to this source tree; and options take an explicit `undefined`, as Effect's own do.
 * (.ci/pack-check compiles the same programs against the packed tarball installed in a fresh app.)
 *
 * Runs the TypeScript compiler; no database.
 */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"
import { readmeExamples } from "./support/readmeExamples.js"

const root = process.cwd()

/** Options are `?: T | undefined`, so a value that may be missing passes through as it is. */
const OPTIONS = `
import { Database, EmbeddedPostgres, Health, HealthMonitor, Transaction, withTransaction, withTransactionRetry } from "effect-pg-resilience"
import { createDatabase } from "effect-pg-resilience/promise"
import { SqlClient } from "@effect/sql"
import { Duration, Effect } from "effect"
declare const maybeDuration: Duration.DurationInput | undefined
declare const maybeNumber: number | undefined
declare const maybeString: string | undefined
declare const maybeBoolean: boolean | undefined
const work = Effect.flatMap(SqlClient.SqlClient, (sql) => sql\`SELECT 1\`)
export const a = work.pipe(withTransaction({ timeout: maybeDuration, isolationLevel: undefined, readOnly: maybeBoolean }))
export const b = work.pipe(withTransactionRetry({ maxRetries: maybeNumber, timeout: maybeDuration }))
export const c = Transaction.makeConfig({ timeout: maybeDuration, maxRetries: maybeNumber })
export const d = Database.layer({ url: maybeString, maxConnections: maybeNumber, connectTimeout: maybeDuration, ssl: maybeBoolean })
export const e = Health.layer({ probeTimeout: maybeDuration, thresholds: undefined })
export const e2 = Health.layer({ thresholds: { degraded: { avgQueryTime: maybeNumber }, whenUnknown: { avgQueryTime: undefined } } })
export const e3 = HealthMonitor.layer({ interval: "1 minute" })
export const e4 = createDatabase({ url: "postgres://app@db/app", healthThresholds: { critical: { cacheHitRatio: maybeNumber }, unhealthy: undefined } })
export const f = HealthMonitor.layer({ interval: maybeDuration, confirmations: maybeNumber, checkTimeout: undefined, onStatusChange: undefined })
export const g = EmbeddedPostgres.layer({ settings: undefined, startTimeout: maybeDuration })
export const h = createDatabase({ url: "postgres://app@db/app", maxConnections: maybeNumber })
`

const compile = (files: ReadonlyArray<{ readonly name: string; readonly text: string }>) => {
  const texts = new Map(files.map((f) => [join(root, "test", `__${f.name}`), f.text]))
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
    types: ["node"],
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    noEmit: true,
    baseUrl: root,
    paths: { "effect-pg-resilience": ["src/index.ts"], "effect-pg-resilience/promise": ["src/promise.ts"] }
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, version) => {
    const text = texts.get(name)
    return text !== undefined ? ts.createSourceFile(name, text, version) : getSourceFile(name, version)
  }
  const readFile = host.readFile.bind(host)
  host.readFile = (name) => texts.get(name) ?? readFile(name)
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (name) => texts.has(name) || fileExists(name)
  // The library's own compilation includes the module augmentation of its internal members.
  const internals = join(root, "src", "internal", "database", "internals.ts")
  const program = ts.createProgram([...texts.keys(), internals], options, host)
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName.replace(`${root}/`, "")}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : ""
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`
  })
}

/** A wrong program in the same compilation: its error must be reported (the check can fail). */
const WRONG = `import { Database } from "effect-pg-resilience"\nexport const l = Database.layer({ maxConnections: "ten" })\n`

describe("the README's examples under a strict user's compiler", () => {
  const examples = readmeExamples(readFileSync(join(root, "README.md"), "utf8"))
  let errors: Array<string> | undefined
  const result = () => errors ??= compile([...examples, { name: "options.ts", text: OPTIONS }, { name: "wrong.ts", text: WRONG }])

  it("every ```ts block compiles (skipLibCheck: false, exactOptionalPropertyTypes), and options take an explicit undefined", () => {
    // One per section that shows code: the pool, transactions, Promise API, errors, health, embedded server.
    expect(examples.length).toBeGreaterThanOrEqual(6)
    expect(result().filter((e) => !e.startsWith("test/__wrong.ts"))).toEqual([])
  }, 180_000)

  it("a wrong example is reported (the check can fail)", () => {
    expect(result().filter((e) => e.startsWith("test/__wrong.ts")).join("\n")).toMatch(/^test\/__wrong\.ts:2 .*not assignable/)
  }, 180_000)
})
