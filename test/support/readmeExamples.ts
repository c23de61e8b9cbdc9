/**
 * The README's TypeScript examples as programs a user's compiler can check: one module per ```ts
 * block, with what the block takes for granted (the surrounding app's types and functions) declared
 * in front of it. Used by test/readme-examples.test.ts (against src/) and by .ci/pack-check (against
 * the packed tarball installed in a fresh app). Run directly, it writes the programs into a folder:
 * `tsx test/support/readmeExamples.ts <folder>`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** What the blocks of a README section take for granted, by section title. */
const preludes: Readonly<Record<string, string>> = {
  "Transactions": `
import { Effect } from "effect"
import { SqlClient } from "@effect/sql"
interface ConversationInput {
  readonly conversation: { readonly title: string; readonly user_id: string }
  readonly turns: ReadonlyArray<{ readonly role: string; readonly content: string }>
}
`,
  "Promise API (`effect-pg-resilience/promise`)": `
interface Conversation { readonly id: string; readonly title: string }
declare const data: { readonly title: string; readonly userId: string; readonly turns: ReadonlyArray<{ readonly role: string; readonly content: string }> }
declare const status: string
declare const batchId: string
declare const createConversation: (input: typeof data) => Promise<Conversation>
declare const retryWithBackoff: <A>(f: () => Promise<A>) => Promise<A>
declare const showValidationError: (message: string) => void
declare const highlightField: (field: string) => void
declare const showNetworkError: () => void
declare const redirectToLogin: () => void
declare const showGenericError: (message: string) => void
declare const alertAdmin: (check: unknown) => void
`,
  "Errors": `
import { Effect } from "effect"
import type { SqlError } from "@effect/sql/SqlError"
declare const program: Effect.Effect<number, SqlError>
declare const showFieldError: (field: string, message: string) => Effect.Effect<number>
declare const anything: unknown
`,
  "Health monitoring": `
import { Effect } from "effect"
`
}

/** One README example as a module. */
export interface ReadmeExample {
  /** A file name for it: `readme-<n>.ts`. */
  readonly name: string
  /** The README section it stands in. */
  readonly section: string
  /** The line of the README where the block starts. */
  readonly line: number
  readonly text: string
}

const isImport = (line: string) => /^import\b/.test(line)

/**
 * A block whose statements use `yield*` outside any generator (a fragment of an `Effect.gen` body)
 * is checked inside one; its imports stay at the top.
 */
const asModule = (block: string): string => {
  if (!/\byield\*/.test(block) || /function\s*\*/.test(block)) return block
  const lines = block.split("\n")
  let end = 0
  let inImport = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (isImport(line)) inImport = !/from\s+"[^"]+"/.test(line)
    else if (inImport) inImport = !/from\s+"[^"]+"/.test(line)
    else if (line.trim() !== "") break
    end = i + 1
  }
  return [...lines.slice(0, end), "export const __body = Effect.gen(function* () {", ...lines.slice(end), "})"].join("\n")
}

/** Every ```ts block of the README, as a module with its section's prelude. */
export const readmeExamples = (readme: string): Array<ReadmeExample> => {
  const examples: Array<ReadmeExample> = []
  let section = ""
  const lines = readme.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const heading = /^## (.+)$/.exec(lines[i]!)
    if (heading) section = heading[1]!
    if (lines[i] !== "```ts") continue
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end] !== "```") end++
    const block = lines.slice(start, end).join("\n")
    const prelude = preludes[section] ?? ""
    examples.push({
      name: `readme-${examples.length + 1}.ts`,
      section,
      line: start,
      text: `${prelude}\n${asModule(block)}\nexport {}\n`
    })
    i = end
  }
  return examples
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const folder = process.argv[2]
  if (folder === undefined) throw new Error("usage: tsx test/support/readmeExamples.ts <folder>")
  mkdirSync(folder, { recursive: true })
  const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8")
  for (const example of readmeExamples(readme)) writeFileSync(join(folder, example.name), example.text)
}
