/**
 * What the two Effect contenders share: a runtime built from a layer, and the same logger.
 */
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"

/**
 * Every log line is formatted (logfmt) and dropped. Why: ours logs a warning per retry; formatting
 * keeps that cost in the measurement while the terminal stays readable for the results table.
 */
export const benchLogger: Layer.Layer<never> = Logger.replace(
  Logger.defaultLogger,
  Logger.map(Logger.logfmtLogger, () => undefined)
)

/** Builds a runtime on `layer` (plus the bench logger) and waits until its pool is ready. */
export const makeRuntime = async <R, E>(layer: Layer.Layer<R, E>): Promise<ManagedRuntime.ManagedRuntime<R, E>> => {
  const runtime = ManagedRuntime.make(Layer.merge(layer, benchLogger))
  await runtime.runtime()
  return runtime
}
