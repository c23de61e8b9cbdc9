/**
 * What a user's editor and compiler see of the errors (issue 14): the README's "Errors" examples
 * compile under a strict user configuration (`exactOptionalPropertyTypes`, `field` being optional),
 * and hovers over a refined effect show the union's members, not an unexpanded `Refined<SqlError>`.
 *
 * Runs the TypeScript compiler on the README's text; no database.
 */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"

const root = process.cwd()

/** The TypeScript blocks of the README's section `## <title>` (none when there is no such section). */
const readmeBlocks = (title: string): Array<string> => {
  const readme = readFileSync(join(root, "README.md"), "utf8")
  const start = readme.indexOf(`\n## ${title}\n`)
  if (start < 0) return []
  const end = readme.indexOf("\n## ", start + 1)
  const section = readme.slice(start, end < 0 ? undefined : end)
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)
}

/**
 * A language service over virtual files in `test/`, with the package name mapped to `src/` (what a
 * user's `import ... from "effect-pg-resilience"` resolves to) and a user's strict options.
 */
const service = (texts: Readonly<Record<string, string>>) => {
  const path = (name: string) => join(root, "test", `__${name}__.ts`)
  const files = new Map(Object.entries(texts).map(([name, text]) => [path(name), text]))
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
    baseUrl: root,
    paths: { "effect-pg-resilience": ["src/index.ts"] }
  }
  const read = (name: string) => files.get(name) ?? ts.sys.readFile(name)
  const host: ts.LanguageServiceHost = {
    getScriptFileNames: () => [...files.keys()],
    getScriptVersion: () => "1",
    getScriptSnapshot: (name) => {
      const text = read(name)
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text)
    },
    getCurrentDirectory: () => root,
    getCompilationSettings: () => options,
    getDefaultLibFileName: ts.getDefaultLibFilePath,
    fileExists: (name) => files.has(name) || ts.sys.fileExists(name),
    readFile: read,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories
  }
  const languageService = ts.createLanguageService(host)
  return {
    /** The errors in the virtual file `name` itself (not those of the library's files). */
    errors: (name: string) => {
      const text = texts[name]!
      return [...languageService.getSyntacticDiagnostics(path(name)), ...languageService.getSemanticDiagnostics(path(name))]
        .map((d) =>
          `${ts.flattenDiagnosticMessageText(d.messageText, "\n")} (at ${
            JSON.stringify(text.slice(d.start, (d.start ?? 0) + (d.length ?? 0)))
          })`
        )
    },
    /** What the editor shows when hovering the identifier that ends right before `marker` in `name`. */
    hover: (name: string, marker: string) => {
      const at = texts[name]!.indexOf(marker)
      expect(at, marker).toBeGreaterThan(0)
      const info = languageService.getQuickInfoAtPosition(path(name), at - 1)
      return ts.displayPartsToString(info?.displayParts)
    }
  }
}

/** What the README's examples take for granted. */
const PRELUDE = `
import { Effect } from "effect"
import type { SqlError } from "@effect/sql/SqlError"
declare const program: Effect.Effect<number, SqlError>
declare const showFieldError: (field: string, message: string) => Effect.Effect<number>
declare const anything: unknown
`

/** The hovers to read, each after its marker. */
const HOVERS = `${PRELUDE}
import { Cause } from "effect"
import { Classify, Errors } from "effect-pg-resilience"
class OwnError { readonly _tag = "OwnError" }
declare const mixed: Effect.Effect<number, SqlError | OwnError>
declare const cause: Cause.Cause<SqlError>
export const refined/*1*/ = Classify.refineErrors(program)
export const refinedMixed/*2*/ = Classify.refineErrors(mixed)
export const piped/*3*/ = program.pipe(Classify.refineErrors)
export const refinedCause/*4*/ = Classify.refineCause(cause)
export const handled/*5*/ = refined.pipe(Effect.catchTag("ConstraintViolation", (e) => showFieldError(e.field ?? "form", e.userMessage)))
export const constructed/*6*/ = new Errors.ConstraintViolation({ kind: "unique", technicalMessage: "t", cause: null })
`

describe("the errors as a user's compiler and editor see them", () => {
  const blocks = readmeBlocks("Errors")
  const readme = `${PRELUDE}\n${blocks.join("\n")}\nexport {}\n`
  // One program for both files: building it is most of the cost.
  let shared: ReturnType<typeof service> | undefined
  const types = () => shared ??= service({ readme, hovers: HOVERS })

  it("the README's Errors examples compile under strict options (showFieldError takes a string)", () => {
    expect(blocks.length).toBeGreaterThan(0)
    expect(readme).toContain("showFieldError(")
    expect(types().errors("readme")).toEqual([])
  }, 120_000)

  it("hovers over refined effects and causes show the union, not Refined<...>", () => {
    expect(types().errors("hovers")).toEqual([])
    const hovers = ["/*1*/", "/*2*/", "/*3*/", "/*4*/", "/*5*/", "/*6*/"].map((marker) => types().hover("hovers", marker))
    for (const hover of hovers) expect(hover).not.toMatch(/Refined<|Classified</)
    expect(hovers[0]).toBe("const refined: Effect.Effect<number, Errors.DatabaseError, never>")
    // the caller's own error stays, SqlError is gone (the order of a union's members is the compiler's)
    expect(hovers[1]).toMatch(
      /^const refinedMixed: Effect\.Effect<number, (Errors\.DatabaseError \| OwnError|OwnError \| Errors\.DatabaseError), never>$/
    )
    expect(hovers[2]).toBe("const piped: Effect.Effect<number, Errors.DatabaseError, never>")
    expect(hovers[3]).toBe("const refinedCause: Cause.Cause<Errors.DatabaseError>")
    // what catchTag leaves: the other members, by name
    expect(hovers[4]).toContain("Errors.Deadlock")
    expect(hovers[4]).not.toContain("Errors.ConstraintViolation")
    expect(hovers[5]).toBe("const constructed: Errors.ConstraintViolation")
  }, 120_000)

  it("every export of every public module carries @since and @category (re-exports @since)", () => {
    const modules = ["src/index.ts", "src/promise.ts", ...ts.sys.readDirectory(join(root, "src"), [".ts"], undefined, undefined, 1)
      .map((file) => file.slice(root.length + 1))
      .filter((file) => /^src\/[A-Z][A-Za-z]*\.ts$/.test(file))]
    expect(modules).toEqual(expect.arrayContaining(["src/Classify.ts", "src/Errors.ts", "src/Database.ts", "src/Health.ts", "src/HealthMonitor.ts", "src/Transaction.ts", "src/Metrics.ts", "src/EmbeddedPostgres.ts"]))
    const undocumented: Array<string> = []
    for (const module of modules) {
      const source = ts.createSourceFile(module, readFileSync(join(root, module), "utf8"), ts.ScriptTarget.ES2022, true)
      const check = (node: ts.Node, name: string, wanted: ReadonlyArray<string>) => {
        const tags = ts.getJSDocTags(node).map((tag) => tag.tagName.text)
        for (const tag of wanted) if (!tags.includes(tag)) undocumented.push(`${module} ${name}: @${tag}`)
      }
      const seen = new Set<string>()
      let exports = 0
      for (const statement of source.statements) {
        if (ts.isExportDeclaration(statement)) {
          exports++
          check(statement, statement.getText().split("\n")[0]!, ["since"])
          continue
        }
        const exported = ts.canHaveModifiers(statement) &&
          ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
        if (!exported) continue
        exports++
        const name = ts.isVariableStatement(statement)
          ? statement.declarationList.declarations.map((d) => d.name.getText()).join(", ")
          : (statement as ts.DeclarationStatement).name?.getText() ?? "?"
        // an overloaded function is documented once, on its first signature
        if (seen.has(name)) continue
        seen.add(name)
        check(ts.isVariableStatement(statement) ? statement.declarationList.declarations[0]! : statement, name, ["since", "category"])
        if (ts.isClassDeclaration(statement)) {
          for (const member of statement.members) {
            const isStatic = ts.canHaveModifiers(member) &&
              ts.getModifiers(member)?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword)
            const deprecated = ts.getJSDocTags(member).some((tag) => tag.tagName.text === "deprecated")
            if (isStatic && !deprecated) check(member, `${name}.${member.name?.getText() ?? "?"}`, ["since", "category"])
          }
        }
      }
      expect(exports, module).toBeGreaterThan(0)
    }
    expect(undocumented).toEqual([])
  })
})
