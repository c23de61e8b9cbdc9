/**
 * Everything the command line writes goes through Effect's `Console`, @effect/cli's help and
 * validation messages included. This console writes colour only to a terminal and only when
 * `NO_COLOR` is not set (https://no-color.org), and leaves out @effect/cli's placeholder
 * descriptions of text values ("A user-defined piece of text…"), which our own descriptions replace.
 * `Console.error` is only where @effect/cli reports a flag it could not parse (and our own code
 * writes its diagnostics to stderr directly): each such report becomes one `pg-resilience: ` line,
 * the format of every other error of the command line, without @effect/cli's trailing blank line.
 *
 * @internal
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { colourEnabled } from "../internal/ansi.js"
import { oneLine } from "./errors.js"

export { colourEnabled }

// eslint-disable-next-line no-control-regex
const ansi = /\x1b\[[0-9;?]*[A-Za-z]/g

const placeholder = /^\s*A user-defined piece of text( that is confidential)?\.\s*$/

/** `text` as written to a stream with or without colour, without @effect/cli's placeholders. */
export const cleanOutput = (text: string, colour: boolean): string => {
  const lines = (colour ? text : text.replace(ansi, "")).split("\n")
  const kept = lines.filter((line) => !placeholder.test(line.replace(ansi, "")))
  return kept.length === lines.length ? kept.join("\n") : kept.join("\n").replace(/\n[ \t]*\n([ \t]*\n)+/g, "\n\n")
}

/** A report of @effect/cli's parser as one line in the command line's error format. */
export const diagnosticLine = (args: ReadonlyArray<unknown>): string => {
  const text = oneLine(args.map((arg) => (typeof arg === "string" ? arg : String(arg))).join(" ").replace(ansi, ""))
  return text.startsWith("pg-resilience: ") ? text : `pg-resilience: ${text}`
}

const cleaned = (args: ReadonlyArray<unknown>, colour: boolean) =>
  args.map((arg) => (typeof arg === "string" ? cleanOutput(arg, colour) : arg))

/** Runs `effect` with the command line's console. */
export const withCliConsole = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((base) => {
    const out = colourEnabled(process.stdout)
    const err = colourEnabled(process.stderr)
    const console: Console.Console = {
      ...base,
      log: (...args) => base.log(...cleaned(args, out)),
      info: (...args) => base.info(...cleaned(args, out)),
      warn: (...args) => base.warn(...cleaned(args, err)),
      error: (...args) => base.error(diagnosticLine(args))
    }
    return Console.withConsole(effect, console)
  })
