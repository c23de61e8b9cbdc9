/**
 * Conformance, name transforms: `transformQueryNames: String.camelToSnake` and
 * `transformResultNames: String.snakeToCamel` (the most used options of @effect/sql), with and
 * without `transformJson`. Before issue 13, `Database.layer` dropped both without a word: inserts
 * wrote to `"firstName"` and rows came back in snake_case.
 */
import { SqlClient, Statement } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Chunk, Effect, Stream, String as Str } from "effect"
import { expect } from "vitest"
import { conformance } from "./support.js"

const transforms = { transformQueryNames: Str.camelToSnake, transformResultNames: Str.snakeToCamel }

const createPeople = Effect.flatMap(PgClient.PgClient, (sql) =>
  sql.withoutTransforms()`CREATE TABLE IF NOT EXISTS people (
    id serial PRIMARY KEY, first_name text NOT NULL, last_name text, home_address jsonb
  )`.pipe(Effect.zipRight(sql`TRUNCATE people RESTART IDENTITY`)))

conformance("PgClient conformance: name transforms", transforms, (it) => {
  it.effect("insert helper writes camelCase keys to snake_case columns", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      const insert = sql`INSERT INTO people ${sql.insert({ firstName: "Tim", lastName: "Lee" })}`
      expect(insert.compile()).toEqual([`INSERT INTO people ("first_name","last_name") VALUES ($1,$2)`, ["Tim", "Lee"]])
      yield* insert
      // Read without transforms: the server has the values in the snake_case columns.
      expect(yield* sql.withoutTransforms()`SELECT first_name, last_name FROM people`).toEqual([
        { first_name: "Tim", last_name: "Lee" }
      ])
    }))

  it.effect("rows come back with camelCase keys, in queries, RETURNING, streams and transactions", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      expect(yield* sql`INSERT INTO people ${sql.insert({ firstName: "Ada" })} RETURNING id, first_name`).toEqual([
        { id: 1, firstName: "Ada" }
      ])
      expect(yield* sql`SELECT first_name, last_name FROM people`).toEqual([{ firstName: "Ada", lastName: null }])
      const streamed = yield* sql`SELECT first_name FROM people`.stream.pipe(Stream.runCollect)
      expect(Chunk.toReadonlyArray(streamed)).toEqual([{ firstName: "Ada" }])
      const inTransaction = yield* sql.withTransaction(sql`SELECT first_name FROM people`)
      expect(inTransaction).toEqual([{ firstName: "Ada" }])
    }))

  it.effect("identifiers and the update / in helpers are transformed; withoutTransforms leaves names alone", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      expect(sql`SELECT * FROM ${sql("peopleTest")}`.compile()[0]).toBe(`SELECT * FROM "people_test"`)
      yield* sql`INSERT INTO ${sql("people")} ${sql.insert({ firstName: "Tim" })}`
      const update = sql`UPDATE people SET ${sql.update({ lastName: "Lee" })} WHERE ${sql.in("firstName", ["Tim"])}`
      expect(update.compile()).toEqual([`UPDATE people SET "last_name" = $1 WHERE "first_name" IN ($2)`, ["Lee", "Tim"]])
      yield* update
      const raw = sql.withoutTransforms()
      const insert = raw`INSERT INTO people ${raw.insert({ first_name: "Raw" })}`
      expect(insert.compile()).toEqual([`INSERT INTO people ("first_name") VALUES ($1)`, ["Raw"]])
      yield* insert
      expect(yield* raw`SELECT first_name, last_name FROM people ORDER BY id`).toEqual([
        { first_name: "Tim", last_name: "Lee" },
        { first_name: "Raw", last_name: null }
      ])
    }))

  it.effect("keys inside JSON values are transformed both ways (transformJson defaults to true)", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      yield* sql`INSERT INTO people ${sql.insert({ firstName: "Tim", homeAddress: sql.json({ streetName: "Main", houseNumbers: [{ flatNo: 1 }] }) })}`
      expect(yield* sql.withoutTransforms()`SELECT home_address FROM people`).toEqual([
        { home_address: { street_name: "Main", house_numbers: [{ flat_no: 1 }] } }
      ])
      expect(yield* sql`SELECT home_address FROM people`).toEqual([
        { homeAddress: { streetName: "Main", houseNumbers: [{ flatNo: 1 }] } }
      ])
    }))

  it.effect("the same result transform as @effect/sql's defaultTransforms", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql`SELECT 1 AS a_key, '[{"b_key": 2}]'::jsonb AS nested, ARRAY[1, 2] AS arr_primitive`
      expect(rows).toEqual(
        Statement.defaultTransforms(Str.snakeToCamel).array([{ a_key: 1, nested: [{ b_key: 2 }], arr_primitive: [1, 2] }])
      )
      expect(rows).toEqual([{ aKey: 1, nested: [{ bKey: 2 }], arrPrimitive: [1, 2] }])
    }))
})

conformance("PgClient conformance: name transforms with transformJson false", { ...transforms, transformJson: false }, (it) => {
  it.effect("column names are transformed, keys inside JSON are not", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      yield* sql`INSERT INTO people ${sql.insert({ firstName: "Tim", homeAddress: sql.json({ streetName: "Main" }) })}`
      expect(yield* sql.withoutTransforms()`SELECT first_name, home_address FROM people`).toEqual([
        { first_name: "Tim", home_address: { streetName: "Main" } }
      ])
      const rows = yield* sql`SELECT first_name, '{"test_value": [1, true, null, "text"], "test_nested": {"test_value": 1}}'::jsonb AS json_field FROM people`
      expect(rows).toEqual([
        { firstName: "Tim", jsonField: { test_value: [1, true, null, "text"], test_nested: { test_value: 1 } } }
      ])
    }))
})
