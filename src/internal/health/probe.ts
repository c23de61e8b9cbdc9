/**
 * Probe I/O: the health queries on the probe's own connection, their answers decoded by Schema.
 *
 * Every text is sent as a named prepared statement, so that the server plans it once per
 * connection (planning was most of the probe's time); behind a pooler that cannot keep prepared
 * statements (PgBouncer in transaction mode before 1.21) the probe falls back to unnamed
 * statements for good.
 *
 * @internal
 */
import type Pg from "pg"
import { getCode, getText } from "../classify/safe.js"
import { processIdOf } from "../pgConnection/driver.js"
import {
  DiscoveryRow,
  decode,
  RawExpensive,
  RawSnapshot,
  StatementTotals,
  TopReadTableRow,
  TopStatementRow
} from "./rows.js"
import {
  discoveryQuery,
  expensiveQuery,
  flushStatisticsQuery,
  latencyQuery,
  type ProbeVariant,
  snapshotQuery,
  statementName,
  statementTotalsQuery,
  topReadTableQuery,
  topStatementQuery
} from "./sql.js"

/** What the probe has learnt about its server (reset after any failure, so it is learnt again). */
export interface ProbeContext {
  variant: ProbeVariant | undefined
  prepared: boolean
}

export const makeProbeContext = (): ProbeContext => ({ variant: undefined, prepared: true })

/** SQLSTATEs of a pooler that lost or mixed up our prepared statements. */
const preparedStatementTrouble = new Set(["26000", "42P05"])

/** Runs one text, prepared when the connection allows it. */
export const run = async (client: Pg.Client, context: ProbeContext, text: string): Promise<ReadonlyArray<unknown>> => {
  if (context.prepared) {
    try {
      return (await client.query({ name: statementName(text), text })).rows
    } catch (error) {
      if (!preparedStatementTrouble.has(getCode(error, "code") ?? "")) throw error
      context.prepared = false
    }
  }
  return (await client.query(text)).rows
}

/** What one cheap probe read. `statements` is the error text when pg_stat_statements is installed but unusable. */
export interface CheapSample {
  readonly latencyMillis: number
  /** The pid the connection reported at start-up (BackendKeyData): a pooler's own behind a pooler. */
  readonly clientPid: number | null
  readonly raw: RawSnapshot
  readonly statements: StatementTotals | string | undefined
}

/** The error's message, cut and scrubbed of secrets (it ends up in the check's details). */
const errorText = (error: unknown): string => getText(error, "message") ?? String(error)

/** The cheap probe: round trip, snapshot, pg_stat_statements totals. */
export const readCheap = async (client: Pg.Client, context: ProbeContext): Promise<CheapSample> => {
  if (context.variant === undefined) {
    const [row] = await run(client, context, discoveryQuery)
    const found = decode(DiscoveryRow, "probe's discovery query", row)
    context.variant = { versionNum: found.version_num, activityFunction: found.activity_function }
  }
  const variant = context.variant
  const started = performance.now()
  await run(client, context, latencyQuery)
  const latencyMillis = performance.now() - started
  const [row] = await run(client, context, snapshotQuery(variant))
  const raw = decode(RawSnapshot, "health probe", (row as { snapshot?: unknown } | undefined)?.snapshot)
  let statements: StatementTotals | string | undefined
  if (raw.pgStatStatementsSchema !== null) {
    statements = await run(client, context, statementTotalsQuery(raw.pgStatStatementsSchema, raw.versionNum)).then(
      (rows) => decode(StatementTotals, "pg_stat_statements totals", rows[0]),
      errorText
    )
  }
  const reported = processIdOf(client)
  return { latencyMillis, clientPid: typeof reported === "number" ? reported : null, raw, statements }
}

/**
 * The first sample of a first check: a cheap probe that warms the connection up (connects, plans
 * every statement), this backend's statistics published (PostgreSQL 15+), then the sample itself,
 * whose own cost is then small. Without it, the window would count the probe's own start.
 */
export const readFirstSample = async (client: Pg.Client, context: ProbeContext): Promise<CheapSample> => {
  const warm = await readCheap(client, context)
  if (warm.raw.versionNum < 150000) return warm
  await run(client, context, flushStatisticsQuery)
  return readCheap(client, context)
}

/** The expensive pass. */
export const readExpensive = async (client: Pg.Client, context: ProbeContext): Promise<RawExpensive> => {
  const [row] = await run(client, context, expensiveQuery)
  return decode(RawExpensive, "expensive health probe", (row as { expensive?: unknown } | undefined)?.expensive)
}

/** Evidence behind a slow-statement or cold-cache recommendation. */
export interface Evidence {
  readonly topStatement?: { readonly queryId: string; readonly calls: number; readonly meanMillis: number }
  readonly topReadTable?: { readonly name: string; readonly blocksRead: number }
}

export const readEvidence = async (
  client: Pg.Client,
  context: ProbeContext,
  want: { readonly statementsSchema: string | null; readonly coldCache: boolean }
): Promise<Evidence> => {
  const top = want.statementsSchema === null
    ? undefined
    : (await run(client, context, topStatementQuery(want.statementsSchema))).map((r) => decode(TopStatementRow, "slowest statement", r))[0]
  const table = want.coldCache
    ? (await run(client, context, topReadTableQuery)).map((r) => decode(TopReadTableRow, "most-read table", r))[0]
    : undefined
  return {
    ...(top ? { topStatement: { queryId: top.query_id, calls: top.calls, meanMillis: top.mean_ms } } : {}),
    ...(table && table.blocks_read > 0 ? { topReadTable: { name: table.name, blocksRead: table.blocks_read } } : {})
  }
}
