/**
 * Conformance, @effect/sql's `SqlPersistedQueue` store on each layer: an offered element is taken
 * once (its value decoded by its schema), an interrupted handler gives its element back to another
 * taker, a failed handler's element comes back with its attempt counted, and an offer with an id is
 * idempotent. The store relies on `FOR UPDATE SKIP LOCKED`, `ON CONFLICT`, `sql.literal` and
 * `withoutTransforms`, so it exercises the layer the way a library on top of @effect/sql does.
 */
import { PersistedQueue } from "@effect/experimental"
import { SqlPersistedQueue } from "@effect/sql"
import { layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Schema } from "effect"
import { expect } from "vitest"
import { implementations, onFreshDatabase } from "./support.js"

const Item = Schema.Struct({ n: Schema.BigInt })

const queueLayer = (client: ReturnType<typeof onFreshDatabase>) =>
  PersistedQueue.layer.pipe(
    Layer.provide(SqlPersistedQueue.layerStore({ pollInterval: "50 millis" })),
    Layer.provideMerge(client)
  )

for (const implementation of implementations) {
  layer(queueLayer(onFreshDatabase(implementation)), { timeout: "60 seconds", excludeTestServices: true })(
    `PgClient conformance: SqlPersistedQueue (${implementation.name})`,
    (it) => {
      it.effect("an offered element is taken, its value decoded", () =>
        Effect.gen(function*() {
          const queue = yield* PersistedQueue.make({ name: "queue-offer-take", schema: Item })
          yield* queue.offer({ n: 42n })
          const taken = yield* queue.take((value, meta) => Effect.succeed({ value, attempts: meta.attempts }))
          expect(taken).toEqual({ value: { n: 42n }, attempts: 0 })
        }))

      it.effect("an element held by a handler goes to no one else; interrupting the handler gives it back", () =>
        Effect.gen(function*() {
          const queue = yield* PersistedQueue.make({ name: "queue-interrupt", schema: Item })
          yield* queue.offer({ n: 7n })
          const holding = yield* Deferred.make<void>()
          const holder = yield* queue.take(() => Effect.zipRight(Deferred.succeed(holding, undefined), Effect.never)).pipe(
            Effect.fork
          )
          yield* Deferred.await(holding)
          const waiter = yield* queue.take((value) => Effect.succeed(value)).pipe(Effect.fork)
          // Many poll intervals pass: the element stays with its holder.
          yield* Effect.sleep("500 millis")
          expect(waiter.unsafePoll()).toBeNull()
          yield* Fiber.interrupt(holder)
          const value = yield* Fiber.join(waiter).pipe(Effect.timeout("10 seconds"))
          expect(value.n).toBe(7n)
        }))

      it.effect("a failed handler's error reaches the caller and the element comes back with one attempt counted", () =>
        Effect.gen(function*() {
          const queue = yield* PersistedQueue.make({ name: "queue-failure", schema: Item })
          yield* queue.offer({ n: 3n })
          const error = yield* queue.take(() => Effect.fail("boom" as const)).pipe(Effect.flip)
          expect(error).toBe("boom")
          const again = yield* queue.take((value, meta) => Effect.succeed({ value, attempts: meta.attempts }))
          expect(again).toEqual({ value: { n: 3n }, attempts: 1 })
        }))

      it.effect("an offer with an id is idempotent: the element is taken once", () =>
        Effect.gen(function*() {
          const queue = yield* PersistedQueue.make({ name: "queue-idempotent", schema: Item })
          const first = yield* queue.offer({ n: 1n }, { id: "custom-id" })
          const second = yield* queue.offer({ n: 1n }, { id: "custom-id" })
          expect([first, second]).toEqual(["custom-id", "custom-id"])
          expect((yield* queue.take((value) => Effect.succeed(value))).n).toBe(1n)
          const next = yield* queue.take((value) => Effect.succeed(value)).pipe(Effect.fork)
          yield* Effect.sleep("500 millis")
          expect(next.unsafePoll()).toBeNull()
          yield* Fiber.interrupt(next)
        }))
    }
  )
}
