import { describe, expect, it } from "@effect/vitest"
import * as Reactivity from "@effect/experimental/Reactivity"
import type { PgClient } from "@effect/sql-pg"
import { Config, ConfigProvider, Duration, Effect, Exit, Inspectable, Layer, Redacted, String as Str } from "effect"
import * as Net from "node:net"
import Pg from "pg"
import * as Database from "../src/Database.js"
import { redactUrl, scrubSecrets } from "../src/internal/redact.js"
import { closestKey } from "../src/internal/schema.js"

const secret = "zebra-s3cret-Pa55"
const url = `postgres://app:${secret}@127.0.0.1:5432/app`

const failure = (input: unknown) => Effect.flip(Database.validateConfig(input as Database.DatabaseConfigInput))

/** No text an error can become holds the secret. */
const expectNoSecret = (error: Database.DatabaseConfigError) => {
  for (const text of [error.message, String(error), JSON.stringify(error), Inspectable.format(error)]) {
    expect(text).not.toContain(secret)
  }
}

// Every option of @effect/sql-pg 0.53's PgClientConfig is an option of ours (a compile error otherwise).
type MissingFromOurs = Exclude<keyof PgClient.PgClientConfig, keyof Database.DatabaseConfigInput>
const everyStockOptionIsOurs: [MissingFromOurs] extends [never] ? true : MissingFromOurs = true
void everyStockOptionIsOurs

describe("Database config", () => {
  it.effect("applies the documented defaults", () =>
    Effect.gen(function*() {
      const config = yield* Database.validateConfig({ url })
      expect(Redacted.value(config.url!)).toBe(url)
      expect(config.maxConnections).toBe(10)
      expect(config.minConnections).toBe(0)
      expect(Duration.toMillis(config.connectTimeout)).toBe(5000)
      expect(Duration.toMillis(config.idleTimeout)).toBe(10_000)
      expect(config.applicationName).toBe("effect-pg-resilience")
      expect(config.transformJson).toBe(true)
      expect(config.ssl).toBeUndefined()
      expect(config.connectionTTL).toBeUndefined()
      // What the URL says is filled in, as PgClient's config does.
      expect(config).toMatchObject({ host: "127.0.0.1", port: 5432, username: "app", database: "app" })
      expect(Redacted.value(config.password!)).toBe(secret)
    }))

  it.effect("accepts a Redacted URL, duration strings and millisecond numbers", () =>
    Effect.gen(function*() {
      const config = yield* Database.validateConfig({
        url: Redacted.make(url.replace("postgres:", "postgresql:")),
        maxConnections: 3,
        connectTimeout: "250 millis",
        idleTimeout: 0,
        applicationName: "billing",
        ssl: { rejectUnauthorized: false }
      })
      expect(config.maxConnections).toBe(3)
      expect(Duration.toMillis(config.connectTimeout)).toBe(250)
      expect(Duration.toMillis(config.idleTimeout)).toBe(0)
      expect(config.ssl).toEqual({ rejectUnauthorized: false })
    }))

  it.effect("accepts every option of PgClientConfig 0.53, as PgClient.layer takes it", () =>
    Effect.gen(function*() {
      const stock: { readonly [K in keyof Required<PgClient.PgClientConfig>]: PgClient.PgClientConfig[K] } = {
        url: Redacted.make("postgres://app@db.internal/app"),
        host: "db.internal",
        port: 5433,
        path: undefined,
        ssl: { rejectUnauthorized: false },
        database: "app",
        username: "app",
        password: Redacted.make(secret),
        stream: () => new Net.Socket(),
        idleTimeout: "30 seconds",
        connectTimeout: 2000,
        maxConnections: 4,
        minConnections: 2,
        connectionTTL: "10 minutes",
        applicationName: "billing",
        spanAttributes: { "service.name": "billing" },
        transformResultNames: Str.snakeToCamel,
        transformQueryNames: Str.camelToSnake,
        transformJson: false,
        types: Pg.types
      }
      // The same object, typed as @effect/sql-pg's own config, is a valid input of ours.
      const asStock: PgClient.PgClientConfig = stock
      const config = yield* Database.validateConfig(asStock)
      expect(config).toMatchObject({
        host: "db.internal",
        port: 5433,
        database: "app",
        username: "app",
        maxConnections: 4,
        minConnections: 2,
        applicationName: "billing",
        transformJson: false,
        spanAttributes: { "service.name": "billing" }
      })
      expect(Redacted.value(config.password!)).toBe(secret)
      expect(Duration.toMillis(config.idleTimeout)).toBe(30_000)
      expect(Duration.toMinutes(config.connectionTTL!)).toBe(10)
      expect(config.transformQueryNames).toBe(Str.camelToSnake)
      expect(config.transformResultNames).toBe(Str.snakeToCamel)
      expect(config.types).toBe(Pg.types)
      expect(config.stream).toBe(stock.stream)
    }))

  it.effect("an explicit undefined means the default (exactOptionalPropertyTypes)", () =>
    Effect.gen(function*() {
      const maybeMax: number | undefined = undefined as number | undefined
      const maybeTimeout: Duration.DurationInput | undefined = undefined as Duration.DurationInput | undefined
      const config = yield* Database.validateConfig({ url, maxConnections: maybeMax, connectTimeout: maybeTimeout, ssl: undefined })
      expect(config.maxConnections).toBe(10)
      expect(Duration.toMillis(config.connectTimeout)).toBe(5000)
      // The layer takes it too.
      const layer: Layer.Layer<Database.Database, Database.DatabaseConfigError> = Database.layer({ url, maxConnections: maybeMax })
      expect(Layer.isLayer(layer)).toBe(true)
    }))

  it.effect("separate fields are enough: host, port, username, password, database", () =>
    Effect.gen(function*() {
      const config = yield* Database.validateConfig({
        host: "127.0.0.1",
        port: 6543,
        username: "app",
        password: secret,
        database: "app"
      })
      expect(config.url).toBeUndefined()
      expect(config).toMatchObject({ host: "127.0.0.1", port: 6543, username: "app", database: "app" })
      expect(String(config.password)).toBe("<redacted>")
    }))

  it.effect("a field may complete the URL (a password kept apart) but not contradict it", () =>
    Effect.gen(function*() {
      const completed = yield* Database.validateConfig({ url: "postgres://app@127.0.0.1/app", password: Redacted.make(secret) })
      expect(Redacted.value(completed.password!)).toBe(secret)
      const same = yield* Database.validateConfig({ url, host: "127.0.0.1", port: 5432 })
      expect(same.host).toBe("127.0.0.1")
      for (
        const [input, field] of [
          [{ url, host: "10.0.0.1" }, "host"],
          [{ url, port: 5433 }, "port"],
          [{ url, username: "other" }, "username"],
          [{ url, password: "other" }, "password"],
          [{ url, database: "other" }, "database"],
          [{ url: `${url}?application_name=a`, applicationName: "b" }, "applicationName"],
          [{ url: `${url}?sslmode=disable`, ssl: true }, "ssl"],
          [{ url, path: "/var/run/postgresql" }, "path"]
        ] as const
      ) {
        const error = yield* failure(input)
        expect(error.field).toBe(field)
        expect(error.reason).toMatch(/url/)
        expectNoSecret(error)
      }
    }))

  it.effect("path is a socket directory or a socket file (whose name gives the port)", () =>
    Effect.gen(function*() {
      const directory = yield* Database.validateConfig({ path: "/var/run/postgresql", username: "app" })
      expect(directory).toMatchObject({ path: "/var/run/postgresql" })
      expect(directory.port).toBeUndefined()
      const file = yield* Database.validateConfig({ path: "/tmp/.s.PGSQL.6432" })
      expect(file.port).toBe(6432)
      expect((yield* failure({ path: "/tmp/.s.PGSQL.6432", port: 5432 })).field).toBe("port")
      expect((yield* failure({ path: "/tmp", host: "db" })).field).toBe("path")
    }))

  const bad: ReadonlyArray<[string, Record<string, unknown>, string]> = [
    ["no server at all", {}, "url"],
    ["url of another scheme", { url: `mysql://app:${secret}@db/app` }, "url"],
    ["url that is no URL", { url: `app:${secret} at db` }, "url"],
    ["url of the wrong type", { url: 42 }, "url"],
    ["password of the wrong type", { url: "postgres://app@db/app", password: { value: secret } }, "password"],
    ["ssl of the wrong type", { url, ssl: `-----BEGIN PRIVATE KEY----- ${secret}` }, "ssl"],
    ["zero connections", { url, maxConnections: 0 }, "maxConnections"],
    ["fractional connections", { url, maxConnections: 2.5 }, "maxConnections"],
    ["negative minimum connections", { url, minConnections: -1 }, "minConnections"],
    ["more minimum than maximum connections", { url, minConnections: 5, maxConnections: 4 }, "minConnections"],
    ["port out of range", { host: "db", port: 70_000 }, "port"],
    ["empty host", { host: "" }, "host"],
    ["negative connect timeout", { url, connectTimeout: -1 }, "connectTimeout"],
    ["zero connect timeout", { url, connectTimeout: 0 }, "connectTimeout"],
    ["infinite connect timeout", { url, connectTimeout: Duration.infinity }, "connectTimeout"],
    ["connect timeout that is no duration", { url, connectTimeout: "soon" }, "connectTimeout"],
    ["infinite idle timeout", { url, idleTimeout: "Infinity" }, "idleTimeout"],
    ["negative idle timeout", { url, idleTimeout: -5 }, "idleTimeout"],
    ["zero connection TTL", { url, connectionTTL: 0 }, "connectionTTL"],
    ["application name too long", { url, applicationName: "x".repeat(64) }, "applicationName"],
    ["application name with a newline", { url, applicationName: "a\nb" }, "applicationName"],
    ["transform that is no function", { url, transformQueryNames: "camelToSnake" }, "transformQueryNames"],
    ["types without getTypeParser", { url, types: {} }, "types"],
    ["stream that is no function", { url, stream: new Net.Socket() }, "stream"],
    ["span attributes that are no record", { url, spanAttributes: "service=billing" }, "spanAttributes"]
  ]
  for (const [name, input, field] of bad) {
    it.effect(`rejects ${name}, naming ${field}, without the password`, () =>
      Effect.gen(function*() {
        const error = yield* failure(input)
        expect(error._tag).toBe("DatabaseConfigError")
        expect(error.field).toBe(field)
        expect(error.message).toContain(field)
        expectNoSecret(error)
      }))
  }

  it.effect("an unknown key is an error naming it, with the option it most likely meant", () =>
    Effect.gen(function*() {
      const typo = yield* failure({ url, maxConection: 5 })
      expect(typo.field).toBe("maxConection")
      expect(typo.reason).toBe("is not an option (did you mean maxConnections?)")
      expect(typo.message).toBe("Invalid database configuration: maxConection is not an option (did you mean maxConnections?)")
      // snake_case spelling of a camelCase option
      expect((yield* failure({ url, transform_query_names: Str.camelToSnake })).reason).toContain("transformQueryNames")
      // a key near nothing lists the options
      const unknown = yield* failure({ url, poolMode: "transaction" })
      expect(unknown.field).toBe("poolMode")
      expect(unknown.reason).toContain("maxConnections")
      // a misspelt password key never echoes its value
      const pasword = yield* failure({ url: "postgres://app@db/app", pasword: secret })
      expect(pasword.field).toBe("pasword")
      expect(pasword.reason).toContain("did you mean password?")
      expectNoSecret(pasword)
    }))

  it("the nearest-option suggestion is bounded (no wild guesses)", () => {
    const known = ["url", "host", "port", "maxConnections", "minConnections", "applicationName"]
    expect(closestKey("hots", known)).toBe("host")
    expect(closestKey("max_connections", known)).toBe("maxConnections")
    expect(closestKey("timeout", known)).toBeUndefined()
    expect(closestKey("x", known)).toBeUndefined()
  })

  it.effect("an unknown key comes first even beside other invalid values, and every problem is listed", () =>
    Effect.gen(function*() {
      const error = yield* failure({ url, maxConnections: -1, connectTimeout: "never", conectTimeout: 5 })
      expect(error.field).toBe("conectTimeout")
      expect(error.issues.map((i) => i.field).sort()).toEqual(["conectTimeout", "connectTimeout", "maxConnections"])
    }))

  it.effect("options that are no object are rejected as a whole", () =>
    Effect.gen(function*() {
      const error = yield* failure(url)
      expect(error.field).toBe("config")
      expectNoSecret(error)
    }))

  /** Runs `use` against a listener that counts connection attempts (and drops each at once). */
  const countingConnections = <A, E>(use: (url: string) => Effect.Effect<A, E>) =>
    Effect.acquireUseRelease(
      Effect.async<{ server: Net.Server; count: () => number }>((resume) => {
        let connections = 0
        const server = Net.createServer((socket) => {
          connections++
          socket.destroy()
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, count: () => connections })))
      }),
      ({ count, server }) =>
        Effect.map(Effect.exit(use(`postgres://u@127.0.0.1:${(server.address() as Net.AddressInfo).port}/x`)), (exit) => ({
          exit,
          count
        })),
      ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
    )

  it.live("an invalid config fails the layer before any connection is attempted", () =>
    Effect.gen(function*() {
      const statement = Effect.flatMap(Database.Database, (db) => db.sql`SELECT 1`)
      // The control: a valid config does reach the listener.
      const valid = yield* countingConnections((url) => statement.pipe(Effect.provide(Database.layer({ url }))))
      expect(Exit.isFailure(valid.exit)).toBe(true)
      expect(valid.count()).toBeGreaterThan(0)
      for (const options of [{ maxConnections: 0 }, { maxConections: 2 }, { minConnections: 2, maxConnections: 1 }]) {
        const invalid = yield* countingConnections((url) =>
          statement.pipe(Effect.provide(Database.layer({ url, ...options } as Database.DatabaseConfigInput)))
        )
        yield* Effect.sleep("50 millis")
        expect(invalid.count()).toBe(0)
        expect(Exit.isFailure(invalid.exit)).toBe(true)
        expect(JSON.stringify(invalid.exit)).toContain("DatabaseConfigError")
      }
    }))

  it.effect("building the layer opens no connection: a valid config on a closed port still builds", () =>
    Effect.gen(function*() {
      const db = yield* Database.Database
      expect(yield* db.poolStats).toEqual({ total: 0, idle: 0, inUse: 0, waiting: 0, max: 10 })
    }).pipe(Effect.provide(Database.layer({ url: "postgres://u@127.0.0.1:1/x" }))))

  it.effect("the service, its pool's options and PgClient.config never show the password", () =>
    Effect.gen(function*() {
      for (const options of [{ url }, { host: "127.0.0.1", port: 1, password: secret }]) {
        const db = yield* Database.make(options).pipe(Effect.provide(Reactivity.layer))
        for (const value of [db.config, db.sql.config, db.pool.options]) {
          for (const text of [JSON.stringify(value), Inspectable.format(value), String(value)]) {
            expect(text).not.toContain(secret)
          }
        }
      }
    }).pipe(Effect.scoped))

  it.effect("the validated config never shows the password", () =>
    Effect.gen(function*() {
      for (const input of [{ url }, { host: "db", password: secret }, { url: "postgres://app@db/app", password: secret }]) {
        const config = yield* Database.validateConfig(input)
        for (const text of [String(config.url), JSON.stringify(config), Inspectable.format(config)]) {
          expect(text).not.toContain(secret)
        }
      }
    }))
})

describe("Database.layerConfig", () => {
  const withEnvironment = (entries: ReadonlyArray<readonly [string, string]>) =>
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))

  it.effect("takes Config.Wrap of the options, as PgClient.layerConfig does", () =>
    Effect.gen(function*() {
      const db = yield* Database.Database
      expect(db.config).toMatchObject({ host: "127.0.0.1", port: 1, maxConnections: 3, applicationName: "from-config" })
      expect(db.config.transformQueryNames).toBe(Str.camelToSnake)
      expect(db.sql.config.maxConnections).toBe(3)
    }).pipe(
      Effect.provide(Database.layerConfig({
        url: Config.redacted("APP_DB_URL"),
        maxConnections: Config.integer("APP_DB_POOL"),
        applicationName: Config.succeed("from-config"),
        transformQueryNames: Config.succeed(Str.camelToSnake)
      })),
      withEnvironment([["APP_DB_URL", "postgres://u@127.0.0.1:1/x"], ["APP_DB_POOL", "3"]])
    ))

  it.effect("a whole Config of the options is accepted too", () =>
    Effect.gen(function*() {
      const db = yield* Database.Database
      expect(db.config.maxConnections).toBe(2)
    }).pipe(
      Effect.provide(Database.layerConfig(Config.succeed({ url: "postgres://u@127.0.0.1:1/x", maxConnections: 2 }))),
      withEnvironment([])
    ))

  it.effect("without an argument it reads DATABASE_URL and the other DATABASE_* variables", () =>
    Effect.gen(function*() {
      const db = yield* Database.Database
      expect(db.config).toMatchObject({ host: "127.0.0.1", port: 1, maxConnections: 4, minConnections: 0 })
      expect(Duration.toMillis(db.config.connectTimeout)).toBe(1500)
    }).pipe(
      Effect.provide(Database.layerConfig()),
      withEnvironment([
        ["DATABASE_URL", "postgres://u@127.0.0.1:1/x"],
        ["DATABASE_MAX_CONNECTIONS", "4"],
        ["DATABASE_CONNECT_TIMEOUT", "1500 millis"]
      ])
    ))

  it.effect("DATABASE_HOST and the separate variables stand in for DATABASE_URL", () =>
    Effect.gen(function*() {
      const db = yield* Database.Database
      expect(db.config).toMatchObject({ host: "127.0.0.1", port: 1, username: "app", database: "app" })
      expect(Redacted.value(db.config.password!)).toBe(secret)
    }).pipe(
      Effect.provide(Database.layerConfig()),
      withEnvironment([
        ["DATABASE_HOST", "127.0.0.1"],
        ["DATABASE_PORT", "1"],
        ["DATABASE_USERNAME", "app"],
        ["DATABASE_PASSWORD", secret],
        ["DATABASE_NAME", "app"]
      ])
    ))

  it.effect("no DATABASE_URL nor DATABASE_HOST is a ConfigError naming DATABASE_URL", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(Database.layerConfig()).pipe(Effect.scoped, Effect.flip, withEnvironment([]))
      expect(error._tag).not.toBe("DatabaseConfigError")
      expect(String(error)).toContain("DATABASE_URL")
    }))

  it.effect("an unknown key in the Config is a DatabaseConfigError naming it", () =>
    Effect.gen(function*() {
      const wrapped = { url: Config.succeed("postgres://u@127.0.0.1:1/x"), maxConection: Config.succeed(5) }
      const error = yield* Layer.build(
        Database.layerConfig(wrapped as unknown as Config.Config.Wrap<Database.DatabaseConfigInput>)
      ).pipe(Effect.scoped, Effect.flip, withEnvironment([]))
      expect(error).toMatchObject({ _tag: "DatabaseConfigError", field: "maxConection" })
    }))

  it.effect("an invalid value read from the environment is a DatabaseConfigError that never shows the password", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(Database.layerConfig()).pipe(
        Effect.scoped,
        Effect.flip,
        withEnvironment([["DATABASE_URL", `mysql://app:${secret}@db/app`]])
      )
      expect(error).toMatchObject({ _tag: "DatabaseConfigError", field: "url" })
      expect(JSON.stringify(error)).not.toContain(secret)
      expect(String(error)).not.toContain(secret)
    }))
})

describe("redaction helpers", () => {
  it("redactUrl hides the password and keeps the rest", () => {
    expect(redactUrl(url)).toBe("postgres://app:***@127.0.0.1:5432/app")
    expect(redactUrl(`postgres://db/app?password=${secret}&sslmode=require`)).not.toContain(secret)
    expect(redactUrl("postgres://app@db/app")).toBe("postgres://app@db/app")
  })
  it("scrubSecrets removes credentials from free text", () => {
    const text = `could not connect to ${url} (password=${secret})`
    expect(scrubSecrets(text)).not.toContain(secret)
    expect(scrubSecrets(text)).toContain("127.0.0.1:5432/app")
  })
})

describe("Database config: several hosts", () => {
  const multi = `postgres://app:${secret}@db1:5433,db2/app?target_session_attrs=read-write`

  it.effect("reads a libpq multi-host URL: the first host fills in the fields, every host is kept", () =>
    Effect.gen(function*() {
      const config = yield* Database.validateConfig({ url: multi })
      expect(config).toMatchObject({ host: "db1", port: 5433, username: "app", database: "app" })
      expect(Redacted.value(config.password!)).toBe(secret)
    }))

  it.effect("takes hosts and targetSessionAttrs as options", () =>
    Effect.gen(function*() {
      const config = yield* Database.validateConfig({
        username: "app",
        hosts: [{ host: "db1" }, { host: "db2", port: 6432 }],
        targetSessionAttrs: "prefer-standby"
      })
      expect(config.hosts).toEqual([{ host: "db1" }, { host: "db2", port: 6432 }])
      expect(config.targetSessionAttrs).toBe("prefer-standby")
    }))

  it.effect("rejects what libpq would not run, naming the field and never the password", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [{ url: multi.replace("read-write", "writable") }, "url"],
        [{ url: `postgres://app:${secret}@db1:99999,db2/app` }, "url"],
        [{ hosts: [] }, "hosts"],
        [{ hosts: [{ host: "" }] }, "hosts.0.host"],
        [{ hosts: [{ host: "db1", port: 0 }] }, "hosts.0.port"],
        [{ hosts: [{ host: "db1" }], host: "db2" }, "hosts"],
        [{ url: multi, hosts: [{ host: "db3" }] }, "hosts"],
        [{ hosts: [{ host: "db1" }], targetSessionAttrs: "master" }, "targetSessionAttrs"]
      ]
      for (const [input, field] of cases) {
        const error = yield* failure(input)
        expect(error._tag).toBe("DatabaseConfigError")
        expect(error.issues.map((i) => i.field)).toContain(field)
        expectNoSecret(error)
      }
    }))
})
