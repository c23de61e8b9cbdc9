/**
 * The conformance suite runs every test twice, with the same assertions: once on @effect/sql-pg's
 * own `PgClient.layer` (the reference) and once on `Database.layer`, each on a fresh database of
 * the run's server. A behaviour where the two differ fails on one side only, so the difference is
 * visible by name.
 */
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { layer, type Vitest } from "@effect/vitest"
import { Effect, Layer, Option, Tracer } from "effect"
import * as Database from "../../src/Database.js"
import { TestDatabase } from "../support/TestDatabase.js"

/** Options both layers take (those of @effect/sql-pg 0.53's `PgClientConfig`). */
export type Options = PgClient.PgClientConfig

export interface Implementation {
  readonly name: "PgClient.layer" | "Database.layer"
  readonly layer: (options: Options) => Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, unknown>
}

export const implementations: ReadonlyArray<Implementation> = [
  { name: "PgClient.layer", layer: (options) => PgClient.layer(options) },
  { name: "Database.layer", layer: (options) => Database.layer(options) }
]

/** `implementation`'s layer on a fresh database (its URL given as `url`), with `TestDatabase`. */
export const onFreshDatabase = (implementation: Implementation, options: Omit<Options, "url"> = {}) =>
  Layer.unwrapEffect(
    Effect.map(TestDatabase, (db) => implementation.layer({ ...options, url: db.url }).pipe(Layer.orDie))
  ).pipe(Layer.provideMerge(TestDatabase.fresh))

type Services = PgClient.PgClient | SqlClient.SqlClient | TestDatabase

/**
 * Declares `body`'s tests once per implementation, as `title (PgClient.layer)` and
 * `title (Database.layer)`. Tests run on the live clock.
 */
export const conformance = (
  title: string,
  options: Omit<Options, "url">,
  body: (it: Vitest.MethodsNonLive<Services, true>, implementation: Implementation) => void
): void => {
  for (const implementation of implementations) {
    layer(onFreshDatabase(implementation, options), { timeout: "60 seconds", excludeTestServices: true })(
      `${title} (${implementation.name})`,
      (it) => body(it, implementation)
    )
  }
}

/** A tracer that keeps every span it starts, over the tracer in use. */
export const recordingSpans = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = base.span(name, parent, context, links, startTime, kind, options)
      spans.push(span)
      return span
    },
    context: (f, fiber) => base.context(f, fiber)
  })
  return { tracer, spans }
})

/** The attributes of the last span named `name`. */
export const lastSpanAttributes = (spans: ReadonlyArray<Tracer.Span>, name: string) =>
  Option.fromNullable(spans.filter((span) => span.name === name).at(-1)).pipe(
    Option.map((span) => Object.fromEntries(span.attributes))
  )

export { eventually } from "../support/eventually.js"

