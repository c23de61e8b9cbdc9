/**
 * Step 1: the seed platform's tables from `sql/platform-schema.sql`, with their constraints read
 * back from the catalog, and the file applied a second time to show it is idempotent.
 */
import * as Effect from "effect/Effect"
import * as Classify from "../../Classify.js"
import { type DemoEnvironment, Environment } from "../environment.js"
import * as Platform from "../platform.js"
import { Report } from "../report.js"

const tables = ["generation_batches", "conversations", "conversation_turns", "batch_events"] as const

interface ConstraintRow {
  readonly table: string
  readonly name: string
  readonly definition: string
}

interface NotNullRow {
  readonly table: string
  readonly column: string
}

/** The rules the demo (and the seed's examples) rely on, as the catalog prints them. */
const expectedConstraints: ReadonlyArray<{ readonly table: string; readonly rule: string; readonly pattern: RegExp }> = [
  { table: "conversations", rule: "FK batch_id → generation_batches", pattern: /^FOREIGN KEY \(batch_id\) REFERENCES generation_batches\(id\)/ },
  { table: "conversations", rule: "CHECK status", pattern: /^CHECK \(\(status = ANY/ },
  { table: "conversations", rule: "CHECK batch_status", pattern: /^CHECK \(\(batch_status = ANY/ },
  { table: "conversation_turns", rule: "FK conversation_id → conversations ON DELETE CASCADE", pattern: /^FOREIGN KEY \(conversation_id\) REFERENCES conversations\(id\) ON DELETE CASCADE/ },
  { table: "conversation_turns", rule: "UNIQUE (conversation_id, turn_index)", pattern: /^UNIQUE \(conversation_id, turn_index\)/ },
  { table: "conversation_turns", rule: "CHECK role", pattern: /^CHECK \(\(role = ANY/ },
  { table: "batch_events", rule: "UNIQUE request_id", pattern: /^UNIQUE \(request_id\)/ }
]

const expectedNotNull = [
  ["conversations", "title"],
  ["conversation_turns", "content"],
  ["conversation_turns", "role"]
] as const

/** Constraints and NOT NULL columns of the scratch schema's tables, from the catalog. */
const readCatalog = (env: DemoEnvironment) =>
  Effect.all({
    tables: env.control<{ name: string }>`
      SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ${env.schema} ORDER BY 1`,
    constraints: env.control<ConstraintRow>`
      SELECT c.conrelid::regclass::text AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
       WHERE n.nspname = ${env.schema} AND c.contype IN ('p', 'f', 'u', 'c')
       ORDER BY 1, 2`,
    notNull: env.control<NotNullRow>`
      SELECT a.attrelid::regclass::text AS table, a.attname AS column
        FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE n.nspname = ${env.schema} AND t.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull`
  })

type Catalog = Effect.Effect.Success<ReturnType<typeof readCatalog>>

const fingerprint = (catalog: Catalog) =>
  JSON.stringify([catalog.tables, catalog.constraints, [...catalog.notNull].sort((a, b) => `${a.table}.${a.column}`.localeCompare(`${b.table}.${b.column}`))])

const missingRules = (catalog: Catalog): ReadonlyArray<string> => [
  ...expectedConstraints
    .filter((e) => !catalog.constraints.some((c) => c.table === e.table && e.pattern.test(c.definition)))
    .map((e) => `${e.table}: ${e.rule}`),
  ...expectedNotNull
    .filter(([table, column]) => !catalog.notNull.some((n) => n.table === table && n.column === column))
    .map(([table, column]) => `${table}.${column} NOT NULL`)
]

const kindsOf = (catalog: Catalog, table: string): string => {
  const defs = catalog.constraints.filter((c) => c.table === table).map((c) => c.definition)
  const count = (prefix: string) => defs.filter((d) => d.startsWith(prefix)).length
  const notNull = catalog.notNull.filter((n) => n.table === table).length
  return [
    `${count("PRIMARY KEY")} PK`,
    `${count("FOREIGN KEY")} FK`,
    `${count("UNIQUE")} UNIQUE`,
    `${count("CHECK")} CHECK`,
    `${notNull} NOT NULL`
  ].join(" · ")
}

/** Runs step 1. */
export const schemaStep = Effect.gen(function*() {
  const report = yield* Report
  const env = yield* Environment
  yield* report.section(1, "The seed platform's tables (sql/platform-schema.sql)")

  yield* Platform.applySchema
  const first = yield* readCatalog(env)
  const created = tables.filter((t) => first.tables.some((row) => row.name === t))
  yield* report.check(
    `${created.length} of ${tables.length} tables created in scratch schema ${env.schema}`,
    created.length === tables.length,
    tables.filter((t) => !created.includes(t)).map((t) => `missing ${t}`).join(", ") || undefined
  )
  for (const table of tables) yield* report.info(`${table.padEnd(20)} ${kindsOf(first, table)}`)

  const missing = missingRules(first)
  yield* report.check(
    `the ${expectedConstraints.length + expectedNotNull.length} rules the examples rely on are real constraints`,
    missing.length === 0,
    missing.length === 0 ? "FKs, ON DELETE CASCADE, UNIQUE (conversation_id, turn_index), CHECKs, NOT NULLs" : `missing: ${missing.join("; ")}`
  )

  yield* Platform.applySchema
  const second = yield* readCatalog(env)
  yield* report.check(
    "applying the file a second time succeeds and changes nothing (idempotent)",
    fingerprint(first) === fingerprint(second),
    `${second.constraints.length} constraints, ${second.notNull.length} NOT NULL columns before and after`
  )
}).pipe(Classify.refineErrors)
