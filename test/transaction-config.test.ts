/**
 * Transaction options validated once per distinct content: options written inline (a fresh object
 * per call) are not decoded again, and no value can pass for another input's.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import * as Transaction from "../src/Transaction.js"

const valid = (input: Transaction.TransactionConfigInput) => {
  const result = Transaction.validateConfig(input)
  if (Either.isLeft(result)) throw new Error(`expected valid options, got ${result.left.message}`)
  return result.right
}

const invalidField = (input: unknown) => {
  const result = Transaction.validateConfig(input as Transaction.TransactionConfigInput)
  if (Either.isRight(result)) throw new Error("expected invalid options")
  return result.left.field
}

describe("Transaction options validation", () => {
  it("fresh objects with the same content get the same validated options, decoded once", () => {
    const first = valid({ isolationLevel: "SERIALIZABLE", timeout: "5 seconds" })
    const second = valid({ isolationLevel: "SERIALIZABLE", timeout: "5 seconds" })
    expect(second).toBe(first)
    expect(first.isolationLevel).toBe("SERIALIZABLE")
    expect(Duration.toMillis(first.timeout)).toBe(5000)
    expect(first.maxRetries).toBe(30)
    // Other content, other options.
    const other = valid({ isolationLevel: "REPEATABLE READ", timeout: "5 seconds" })
    expect(other.isolationLevel).toBe("REPEATABLE READ")
    expect(valid({ isolationLevel: "SERIALIZABLE", timeout: 5000 })).not.toBe(first)
  })

  it("an invalid input stays invalid however often it is written", () => {
    for (let i = 0; i < 3; i++) {
      expect(invalidField({ maxRetries: 1.5 })).toBe("maxRetries")
      expect(invalidField({ timeout: Number.NaN })).toBe("timeout")
      expect(invalidField({ isolationlevel: "SERIALIZABLE" })).toBe("isolationlevel")
    }
    // NaN and Infinity are told apart, and so are a number and the string of its digits.
    expect(invalidField({ maxRetries: Number.POSITIVE_INFINITY })).toBe("maxRetries")
    expect(valid({ maxRetries: 3 }).maxRetries).toBe(3)
    expect(invalidField({ maxRetries: "3" })).toBe("maxRetries")
  })

  it("no string value can spell the content of another input", () => {
    // Validated first: a valid input whose content a forged string would try to repeat.
    expect(valid({ isolationLevel: "SERIALIZABLE", readOnly: true }).readOnly).toBe(true)
    for (const forged of [
      "SERIALIZABLE\u0001readOnly\u0000boolean\u0000true",
      "SERIALIZABLE\",\"readOnly\":boolean:true,",
      "SERIALIZABLE:readOnly:boolean:true"
    ]) {
      expect(invalidField({ isolationLevel: forged })).toBe("isolationLevel")
    }
  })

  it("options holding objects (a Schedule, a Duration) are validated as they are", () => {
    const schedule = Schedule.spaced("10 millis")
    expect(valid({ schedule, timeout: Duration.seconds(2) }).schedule).toBe(schedule)
    expect(invalidField({ schedule: { not: "a schedule" } })).toBe("schedule")
  })
})
