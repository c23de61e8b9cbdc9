/**
 * Conformance, default options: the statement helpers of @effect/sql on PostgreSQL (what they
 * compile to, and that the server accepts it), JSON, arrays, literals, streams, multi-statement
 * queries, transactions and savepoints, interruption of a reserved connection, and the config that
 * `PgClient` reports. Every test runs on `PgClient.layer` and on `Database.layer` (see support.ts).
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Chunk, Effect, Exit, Redacted, Stream } from "effect"
import { expect } from "vitest"
import { parse as parseConnectionString } from "pg-connection-string"
import { TestDatabase } from "../support/TestDatabase.js"
import { conformance } from "./support.js"

const createPeople = Effect.flatMap(PgClient.PgClient, (sql) =>
  sql`CREATE TABLE IF NOT EXISTS people (
    id serial PRIMARY KEY,
    name text NOT NULL,
    age int,
    json jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
  )`.pipe(Effect.zipRight(sql`TRUNCATE people RESTART IDENTITY`)))

conformance("PgClient conformance: statements", {}, (it) => {
  it.effect("insert helper: quoted columns, one placeholder per value, accepted by the server", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      const insert = sql`INSERT INTO people ${sql.insert({ name: "Ada", age: 36 })}`
      expect(insert.compile()).toEqual([`INSERT INTO people ("name","age") VALUES ($1,$2)`, ["Ada", 36]])
      yield* insert
      const many = sql`INSERT INTO people ${sql.insert([{ name: "Bo", age: 1 }, { name: "Cy", age: 2 }])} RETURNING id`
      expect(many.compile()[0]).toBe(`INSERT INTO people ("name","age") VALUES ($1,$2),($3,$4) RETURNING id`)
      expect(yield* many).toEqual([{ id: 2 }, { id: 3 }])
      expect(yield* sql`SELECT name, age FROM people ORDER BY id`).toEqual([
        { name: "Ada", age: 36 },
        { name: "Bo", age: 1 },
        { name: "Cy", age: 2 }
      ])
    }))

  it.effect("update helper: SET list (with omitted keys) and RETURNING", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      yield* sql`INSERT INTO people ${sql.insert({ name: "Ada", age: 36 })}`
      const update = sql`UPDATE people SET ${sql.update({ name: "Ada L.", age: 99 }, ["age"])} WHERE id = 1`
      expect(update.compile()).toEqual([`UPDATE people SET "name" = $1 WHERE id = 1`, ["Ada L."]])
      yield* update
      const returning = sql`UPDATE people SET ${sql.update({ age: 37 }).returning("*")}`
      expect(returning.compile()).toEqual([`UPDATE people SET "age" = $1 RETURNING *`, [37]])
      const [row] = yield* returning
      expect(row).toMatchObject({ id: 1, name: "Ada L.", age: 37 })
    }))

  it.effect("updateValues helper: a VALUES list joined by alias, with and without RETURNING", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      yield* sql`INSERT INTO people ${sql.insert([{ name: "a" }, { name: "b" }])}`
      const values = sql.updateValues([{ id: 1, name: "A" }, { id: 2, name: "B" }], "data")
      const update = sql`UPDATE people SET name = data.name FROM ${values} WHERE people.id = data.id::int`
      expect(update.compile()).toEqual([
        `UPDATE people SET name = data.name FROM (values ($1,$2),($3,$4)) AS data("id","name") WHERE people.id = data.id::int`,
        [1, "A", 2, "B"]
      ])
      yield* update
      const returning = sql`UPDATE people SET name = data.name FROM ${
        sql.updateValues([{ id: 1, name: "AA" }], "data").returning("people.name")
      } WHERE people.id = data.id::int`
      expect(returning.compile()[0]).toBe(
        `UPDATE people SET name = data.name FROM (values ($1,$2)) AS data("id","name") RETURNING people.name WHERE people.id = data.id::int`
      )
      expect(yield* sql`SELECT name FROM people ORDER BY id`).toEqual([{ name: "A" }, { name: "B" }])
    }))

  it.effect("in helper: values, a column, and an empty list that matches nothing", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      yield* sql`INSERT INTO people ${sql.insert([{ name: "a" }, { name: "b" }, { name: "c" }])}`
      const values = sql`SELECT name FROM ${sql("people")} WHERE id IN ${sql.in([1, 3])} ORDER BY id`
      expect(values.compile()).toEqual([`SELECT name FROM "people" WHERE id IN ($1,$2) ORDER BY id`, [1, 3]])
      expect(yield* values).toEqual([{ name: "a" }, { name: "c" }])
      const column = sql`SELECT name FROM people WHERE ${sql.in("name", ["b", "z"])}`
      expect(column.compile()).toEqual([`SELECT name FROM people WHERE "name" IN ($1,$2)`, ["b", "z"]])
      expect(yield* column).toEqual([{ name: "b" }])
      const empty = sql`SELECT name FROM people WHERE ${sql.in("id", [])}`
      expect(empty.compile()).toEqual([`SELECT name FROM people WHERE 1=0`, []])
      expect(yield* empty).toEqual([])
    }))

  it.effect("and / or helpers combine fragments with their parameters in order", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      yield* sql`INSERT INTO people ${sql.insert([{ name: "Tim", age: 10 }, { name: "John", age: 50 }, { name: "Ann", age: 5 }])}`
      const later = new Date(Date.now() + 60_000)
      const query = sql`SELECT name FROM people WHERE ${
        sql.and([sql.in("name", ["Tim", "John"]), sql`created_at < ${later}`, sql.or([sql`age < ${20}`, sql`age > ${40}`])])
      } ORDER BY id`
      expect(query.compile()).toEqual([
        `SELECT name FROM people WHERE ("name" IN ($1,$2) AND created_at < $3 AND (age < $4 OR age > $5)) ORDER BY id`,
        ["Tim", "John", later, 20, 40]
      ])
      expect(yield* query).toEqual([{ name: "Tim" }, { name: "John" }])
    }))

  it.effect("sql.json in insert and updateValues: a single parameter that the server stores as jsonb", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      const insert = sql`INSERT INTO people ${sql.insert({ name: "Tim", age: 10, json: sql.json({ a: 1, nested: [1, "x"] }) })}`
      const [text, params] = insert.compile()
      expect(text).toBe(`INSERT INTO people ("name","age","json") VALUES ($1,$2,$3)`)
      expect(params).toHaveLength(3)
      yield* insert
      const update = sql`UPDATE people SET json = data.json::jsonb FROM ${
        sql.updateValues([{ json: sql.json({ b: 2 }) }], "data")
      } WHERE id = ${1}`
      expect(update.compile()).toEqual([
        `UPDATE people SET json = data.json::jsonb FROM (values ($1)) AS data("json") WHERE id = $2`,
        [expect.anything(), 1]
      ])
      expect(yield* sql`SELECT json FROM people`).toEqual([{ json: { a: 1, nested: [1, "x"] } }])
      yield* update
      expect(yield* sql`SELECT json FROM people`).toEqual([{ json: { b: 2 } }])
    }))

  it.effect("an object parameter is sent as JSON, and jsonb comes back parsed", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const [row] = yield* sql<{ json: unknown; text: string }>`SELECT ${{ testValue: 123, list: [true, null] }}::jsonb AS json,
        ${{ a: 1 }}::text AS text`
      expect(row!.json).toEqual({ testValue: 123, list: [true, null] })
      expect(JSON.parse(row!.text)).toEqual({ a: 1 })
    }))

  it.effect("arrays: a JS array parameter is a PostgreSQL array, and arrays come back as JS arrays", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const [row] = yield* sql<{ ints: Array<number>; texts: Array<string>; sum: number }>`
        SELECT ${[1, 2, 3]}::int[] AS ints, ARRAY['a', 'b,c'] AS texts,
               (SELECT sum(x)::int FROM unnest(${[4, 5]}::int[]) AS x) AS sum`
      expect(row).toEqual({ ints: [1, 2, 3], texts: ["a", "b,c"], sum: 9 })
    }))

  it.effect("literals and identifiers are spliced into the text, values are parameters", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const query = sql`SELECT ${sql.literal("1 + 1")} AS two, ${"it's"}::text AS quoted, 3 AS ${sql("my col")}`
      expect(query.compile()).toEqual([`SELECT 1 + 1 AS two, $1::text AS quoted, 3 AS "my col"`, ["it's"]])
      expect(yield* query).toEqual([{ two: 2, quoted: "it's", "my col": 3 }])
      expect(yield* sql.unsafe<{ n: number }>("SELECT $1::int AS n", [7])).toEqual([{ n: 7 }])
    }))

  it.effect("values and raw: rows as arrays, and the driver's own result", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      expect(yield* sql`SELECT 1 AS a, 'x' AS b`.values).toEqual([[1, "x"]])
      const raw = (yield* sql`SELECT 1 AS a`.raw) as { rows: Array<unknown>; command: string }
      expect(raw.command).toBe("SELECT")
      expect(raw.rows).toEqual([{ a: 1 }])
    }))

  it.effect("onDialect picks pg", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      expect(sql.onDialect({ sqlite: () => "A", pg: () => "B", mysql: () => "C", mssql: () => "D", clickhouse: () => "E" }))
        .toBe("B")
      expect(sql.onDialectOrElse({ orElse: () => "A", pg: () => "B" })).toBe("B")
    }))

  it.effect("a stream yields every row in order, in batches through a cursor", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ n: number }>`SELECT generate_series(1, 300) AS n`.stream.pipe(Stream.runCollect)
      expect(Chunk.toReadonlyArray(rows).map((row) => row.n)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
      const first = yield* sql`SELECT generate_series(1, 3)`.stream.pipe(Stream.runCollect)
      expect(Chunk.toReadonlyArray(first)).toEqual([{ generate_series: 1 }, { generate_series: 2 }, { generate_series: 3 }])
    }))

  it.effect("a stream taken partly stops the cursor, and the connection serves the next statement", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const two = yield* sql<{ n: number }>`SELECT generate_series(1, 100000) AS n`.stream.pipe(Stream.take(2), Stream.runCollect)
      expect(Chunk.toReadonlyArray(two)).toEqual([{ n: 1 }, { n: 2 }])
      expect(yield* sql`SELECT 1 AS one`).toEqual([{ one: 1 }])
    }))

  it.effect("multi-statement text returns one result per statement", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const result = yield* sql<{ id: string; name: string }>`
        CREATE TABLE multi (id text PRIMARY KEY, name text);
        INSERT INTO multi (id, name) VALUES ('id1', 'one') RETURNING *;
        INSERT INTO multi (id, name) VALUES ('id2', 'two') RETURNING *;
      `
      expect(result).toEqual([[], [{ id: "id1", name: "one" }], [{ id: "id2", name: "two" }]])
    }))

  it.effect("withTransaction commits on success and rolls back on failure", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      yield* sql.withTransaction(sql`INSERT INTO people ${sql.insert({ name: "kept" })}`)
      const failed = yield* sql.withTransaction(
        Effect.zipRight(sql`INSERT INTO people ${sql.insert({ name: "lost" })}`, Effect.fail("boom" as const))
      ).pipe(Effect.flip)
      expect(failed).toBe("boom")
      expect(yield* sql`SELECT name FROM people ORDER BY id`).toEqual([{ name: "kept" }])
    }))

  it.effect("statements inside withTransaction share one session; a nested failure rolls back to its savepoint only", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      const pids = yield* sql.withTransaction(Effect.gen(function*() {
        const [outer] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`
        yield* sql`INSERT INTO people ${sql.insert({ name: "outer" })}`
        const inner = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO people ${sql.insert({ name: "inner" })}`
          const [row] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`
          return yield* Effect.fail(row!.pid)
        })).pipe(Effect.flip)
        yield* sql.withTransaction(sql`INSERT INTO people ${sql.insert({ name: "inner 2" })}`)
        return [outer!.pid, inner]
      }))
      expect(pids[0]).toBe(pids[1])
      expect(yield* sql`SELECT name FROM people ORDER BY id`).toEqual([{ name: "outer" }, { name: "inner 2" }])
    }))

  it.effect("a statement error inside withTransaction fails it with SqlError and nothing is kept", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* createPeople
      const exit = yield* sql.withTransaction(
        Effect.zipRight(sql`INSERT INTO people ${sql.insert({ name: "x" })}`, sql`INSERT INTO people (name) VALUES (NULL)`)
      ).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(JSON.stringify(exit.cause)).toContain("SqlError")
      expect(yield* sql`SELECT count(*)::int AS n FROM people`).toEqual([{ n: 0 }])
    }))

  it.scoped("a reserved connection survives an interrupted statement and serves the next one", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const conn = yield* sql.reserve
      const timedOut = yield* conn.executeRaw("SELECT pg_sleep(1000)", []).pipe(Effect.timeoutOption("50 millis"))
      expect(timedOut._tag).toBe("None")
      expect(yield* conn.executeValues("SELECT 1", [])).toEqual([[1]])
    }))

  it.effect("PgClient.config reports the connection settings read from the URL", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const test = yield* TestDatabase
      expect(sql.config.url).toBeDefined()
      expect(Redacted.value(sql.config.url!)).toBe(Redacted.value(test.url))
      const parsed = parseConnectionString(Redacted.value(test.url))
      expect(sql.config.host).toBe(parsed.host)
      expect(sql.config.port).toBe(Number(parsed.port))
      expect(sql.config.username).toBe(parsed.user)
      expect(sql.config.database).toBe(parsed.database)
      expect(sql.config.password === undefined ? undefined : Redacted.value(sql.config.password)).toBe(
        parsed.password === "" ? undefined : parsed.password
      )
      expect(String(sql.config.password)).not.toContain(parsed.password || "\u0000")
    }))
})
