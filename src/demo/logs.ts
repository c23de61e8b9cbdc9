/**
 * The library's log lines, collected instead of printed: hundreds of "retrying" lines would bury
 * the report. The steps count them (one warning per retry is a claim of its own) and the summary
 * lists them by message.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

/** One collected log line: its level and message, never its annotations (they are not printed). */
export interface LogLine {
  readonly level: string
  readonly message: string
}

/** The collected lines. */
export class LibraryLog extends Context.Tag("effect-pg-resilience/demo/LibraryLog")<
  LibraryLog,
  { readonly lines: Effect.Effect<ReadonlyArray<LogLine>> }
>() {}

const messageOf = (message: unknown): string =>
  Array.isArray(message) ? message.map(String).join(" ") : String(message)

/** Replaces the default logger with the collector and provides `LibraryLog`. */
export const layer: Layer.Layer<LibraryLog> = Layer.unwrapEffect(
  Effect.sync(() => {
    const lines: Array<LogLine> = []
    const collector = Logger.make(({ logLevel, message }) => {
      lines.push({ level: logLevel.label, message: messageOf(message) })
    })
    return Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, collector),
      // The library logs each retry at DEBUG: collect those too.
      Logger.minimumLogLevel(LogLevel.Debug),
      Layer.succeed(LibraryLog, { lines: Effect.sync(() => [...lines]) })
    )
  })
)

/** How many lines have this level and message. */
export const countLines = (lines: ReadonlyArray<LogLine>, level: string, message: string): number =>
  lines.filter((line) => line.level === level && line.message === message).length

/** Lines grouped by level and message, most frequent first: "219× DEBUG transaction attempt failed; retrying". */
export const tally = (lines: ReadonlyArray<LogLine>): ReadonlyArray<string> => {
  const counts = new Map<string, number>()
  for (const line of lines) {
    const key = `${line.level} ${line.message}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([key, n]) => `${n}× ${key}`)
}
