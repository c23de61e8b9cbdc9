import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Inspectable, Layer, Redacted } from "effect"
import * as Database from "../src/Database.js"
import { redactUrl, scrubSecrets } from "../src/internal/redact.js"

const secret = "zebra-s3cret-Pa55"
const url = `postgres://app:${secret}@127.0.0.1:5432/app`

const failure = (input: unknown) =>
  Effect.flip(Database.validateConfig(input as Database.DatabaseConfigInput))

describe("Database config", () => {
  it.effect("applies the documented defaults", () =>
    Effect.gen(function*() {
      const config = yield* Database.validateConfig({ url })
      expect(Redacted.value(config.url)).toBe(url)
      expect(config.maxConnections).toBe(10)
      expect(Duration.toMillis(config.connectTimeout)).toBe(5000)
      expect(Duration.toMillis(config.idleTimeout)).toBe(10_000)
      expect(config.applicationName).toBe("effect-pg-resilience")
      expect(config.ssl).toBeUndefined()
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

  const bad: ReadonlyArray<[string, Record<string, unknown>, string]> = [
    ["missing url", {}, "url"],
    ["url of another scheme", { url: `mysql://app:${secret}@db/app` }, "url"],
    ["url that is no URL", { url: `app:${secret} at db` }, "url"],
    ["url of the wrong type", { url: 42 }, "url"],
    ["zero connections", { url, maxConnections: 0 }, "maxConnections"],
    ["fractional connections", { url, maxConnections: 2.5 }, "maxConnections"],
    ["negative connect timeout", { url, connectTimeout: -1 }, "connectTimeout"],
    ["zero connect timeout", { url, connectTimeout: 0 }, "connectTimeout"],
    ["infinite connect timeout", { url, connectTimeout: Duration.infinity }, "connectTimeout"],
    ["connect timeout that is no duration", { url, connectTimeout: "soon" }, "connectTimeout"],
    ["infinite idle timeout", { url, idleTimeout: "Infinity" }, "idleTimeout"],
    ["application name too long", { url, applicationName: "x".repeat(64) }, "applicationName"],
    ["application name with a newline", { url, applicationName: "a\nb" }, "applicationName"],
    ["ssl of the wrong type", { url, ssl: "yes" }, "ssl"]
  ]
  for (const [name, input, field] of bad) {
    it.effect(`rejects ${name}, naming ${field}, without the password`, () =>
      Effect.gen(function*() {
        const error = yield* failure(input)
        expect(error._tag).toBe("DatabaseConfigError")
        expect(error.field).toBe(field)
        expect(error.message).toContain(field)
        for (const text of [error.message, String(error), JSON.stringify(error), Inspectable.format(error)]) {
          expect(text).not.toContain(secret)
        }
      }))
  }

  it.effect("reports every invalid field at once", () =>
    Effect.gen(function*() {
      const error = yield* failure({ url, maxConnections: -1, connectTimeout: "never" })
      expect(error.issues.map((i) => i.field).sort()).toEqual(["connectTimeout", "maxConnections"])
    }))

  it.effect("an invalid config fails the layer before any connection is attempted", () =>
    Effect.gen(function*() {
      // Port 1 on loopback refuses connections: had the layer tried one, the error would be a SqlError.
      const exit = yield* Layer.build(Database.layer({ url: "postgres://u@127.0.0.1:1/x", maxConnections: 0 })).pipe(
        Effect.scoped,
        Effect.exit
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(JSON.stringify(exit.cause)).toContain("DatabaseConfigError")
    }))

  it.effect("building the layer opens no connection: a valid config on a closed port still builds", () =>
    Effect.gen(function*() {
      const db = yield* Database.Database
      expect(yield* db.poolStats).toEqual({ total: 0, idle: 0, inUse: 0, waiting: 0, max: 10 })
    }).pipe(Effect.provide(Database.layer({ url: "postgres://u@127.0.0.1:1/x" }))))

  it.effect("the validated config never shows the password", () =>
    Effect.gen(function*() {
      const config = yield* Database.validateConfig({ url })
      for (const text of [String(config.url), JSON.stringify(config), Inspectable.format(config)]) {
        expect(text).not.toContain(secret)
      }
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
