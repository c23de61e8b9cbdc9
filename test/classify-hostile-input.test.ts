/**
 * Classification of hostile input (issue 10, point 5, and the fault-suite scenario "bad input").
 *
 * 1. Huge, crafted error texts: a 1 MB or 10 MB message built to make a naive password scrubber
 *    backtrack took seconds to hours (520 KB: 10 s); now each classification is bounded, and the
 *    password is gone from every text of the result, even where the cut went through it.
 * 2. 10,000 generated values (seeded, deterministic) through every public function that takes
 *    `unknown` error input: primitives, symbols, cyclic objects, throwing getters, Proxies whose
 *    every trap throws, revoked proxies, 10,000-deep cause chains, AggregateErrors, huge strings in
 *    every field, frozen and null-prototype objects, real SQLSTATEs with hostile other fields.
 *    Nothing throws, every result is a member of the union, and the whole run stays fast.
 *
 * Pure: no database (the global setup still starts one for the other suites).
 */
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import * as Classify from "../src/Classify.js"
import * as Errors from "../src/Errors.js"
import { clipSecrets, scrubSecrets } from "../src/internal/redact.js"

const PASSWORD = "Zq9xK7vW2mQ4jR"
/** Any three characters of the password in a row would be a (partial) leak. */
const fragments = Array.from({ length: PASSWORD.length - 2 }, (_, i) => PASSWORD.slice(i, i + 3))
const leaks = (text: string): boolean => fragments.some((f) => text.includes(f))
/** Where a leak is, for the failure message. */
const leakContext = (text: string): string => {
  const at = Math.min(...fragments.map((f) => text.indexOf(f)).filter((i) => i >= 0))
  return Number.isFinite(at)
    ? `leak at ${at}: ${JSON.stringify(text.slice(0, 40))} ... ${JSON.stringify(text.slice(Math.max(0, at - 120), at + 40))}`
    : "no leak"
}
const SECRET_URL = `postgres://app:${PASSWORD}@db.internal:5432/app`

const MB = 1024 * 1024

/**
 * A flat string, as pg decodes one from a Buffer. Not a rope (what `repeat` and `+` build): V8
 * copies a rope into a flat string on its first read, whoever reads it (about 4 ms per MB here),
 * which is no cost of the classifier.
 */
const flat = (s: string): string => Buffer.from(s, "utf8").toString("utf8")

/**
 * `characters` of text made to hurt: the first 16 KB carry a password every few dozen characters,
 * in every form the scrubber knows (so whatever the cut, one straddles it), the rest is `unit`
 * repeated (`postgres://a:` without `@` made the former scrubber rescan the rest of the text from
 * every occurrence).
 */
const adversarial = (characters: number, unit = "postgres://a:"): string => {
  const forms = [SECRET_URL, `password=${PASSWORD}`, `password='${PASSWORD} x'`, `PGPASSWORD = "${PASSWORD}"`]
  let head = ""
  for (let i = 0; head.length < 16 * 1024; i++) head += `${"x".repeat(i % 7)} ${forms[i % forms.length]} `
  return flat(head + unit.repeat(Math.ceil((characters - head.length) / unit.length))).slice(0, characters)
}

/**
 * Every text a caller could log or show: the fields, `message`, `toString`, and the JSON form
 * (which names the kind of the original `cause` instead of copying it; the cause itself is the
 * caller's own value, kept as it is).
 */
const textsOf = (error: Errors.DatabaseError): Array<string> => {
  const texts = [error.message, error.technicalMessage, error.userMessage, String(error)]
  for (const [key, value] of Object.entries(error)) if (typeof value === "string") texts.push(`${key}: ${value}`)
  texts.push(JSON.stringify(error))
  return texts
}

const sqlErrorOf = (cause: unknown) => new SqlError({ cause, message: "Failed to execute statement" })

const pgError = (code: string, message: string, fields: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { name: "error", severity: "ERROR", code, length: 100, ...fields })

const isMember = (e: unknown): e is Errors.DatabaseError =>
  Errors.isDatabaseError(e) && Errors.databaseErrorTags.includes(e._tag) &&
  typeof e.userMessage === "string" && e.userMessage.length > 0 && typeof e.technicalMessage === "string" &&
  Object.values(Errors.DatabaseRecoveryAction).includes(e.recoveryAction) &&
  Object.values(Errors.DatabaseErrorCategory).includes(e.category)

/** The technical message is cut at 4000 characters, plus the note saying so. */
const MAX_TECHNICAL_WITH_NOTE = 4200

// ---------------------------------------------------------------------------
// 1. Huge crafted texts
// ---------------------------------------------------------------------------

describe("huge crafted error texts (issue 10, point 5)", () => {
  const shapes: ReadonlyArray<readonly [string, (characters: number) => unknown]> = [
    ["a message of `postgres://a:` without `@`", (n) => new Error(adversarial(n))],
    ["a message of `:` after one `postgres://u`", (n) => new Error(adversarial(n, "postgres://u" + ":".repeat(64)))],
    ["a message of `password=`", (n) => new Error(adversarial(n, "password="))],
    ["a message of quotes after a constraint", (n) =>
      new Error(`duplicate key value violates unique constraint "${adversarial(n, "\"\"")}`)],
    ["a 23505 whose detail is huge", (n) =>
      new SqlError({
        cause: pgError("23505", `duplicate key value violates unique constraint "k" ${SECRET_URL}`, {
          detail: flat(`Key (${adversarial(n, "a b(postgres://a:")}`),
          hint: adversarial(n),
          where: adversarial(n),
          constraint: adversarial(n),
          table: adversarial(n),
          column: adversarial(n)
        }),
        message: "Failed to execute statement"
      })],
    ["a cause chain of huge messages", (n) => {
      let error: unknown = new Error(adversarial(n / 8))
      for (let i = 0; i < 8; i++) error = new Error(adversarial(n / 8, "postgres://b:"), { cause: error })
      return error
    }],
    ["a PostgREST error with huge fields", (n) =>
      ({ code: "PGRST116", message: adversarial(n), details: adversarial(n), hint: adversarial(n) })]
  ]

  for (const size of [1 * MB, 10 * MB]) {
    for (const [name, make] of shapes) {
      it(`${size / MB} MB: ${name} is classified quickly, the password redacted everywhere`, () => {
        const input = make(size)
        const started = performance.now()
        const error = Classify.classifyDatabaseError(input)
        const elapsed = performance.now() - started
        // Does not hang. The aim is 10 ms (W5 of `npm run bench`); 2 s leaves room for a loaded
        // 2-core machine and still fails the former scrubber (10 s for 520 KB, hours for 10 MB).
        // That the work is bounded is asserted without a clock in "bounded work, counted" below.
        expect(elapsed).toBeLessThan(2_000)
        expect(isMember(error)).toBe(true)
        for (const text of textsOf(error)) expect(leaks(text), leakContext(text)).toBe(false)
        expect(error.technicalMessage.length).toBeLessThanOrEqual(MAX_TECHNICAL_WITH_NOTE)
        expect(error.technicalMessage).toContain("[cut: ")
        // The JSON form stays small: the cause (megabytes here) is named, not copied.
        expect(JSON.stringify(error).length).toBeLessThan(64 * 1024)
        const commit = Classify.classifyCommitFailure(input)
        for (const text of textsOf(commit)) expect(leaks(text), leakContext(text)).toBe(false)
        expect(Classify.getDatabaseErrorMessage(input)).toBe(error.userMessage)
      })
    }
  }

  it("a 1 MB message is classified exactly as a 10 MB one: only a bounded prefix is read (timing in W5)", () => {
    const one = Classify.classifyDatabaseError(new Error(adversarial(MB)))
    const ten = Classify.classifyDatabaseError(new Error(adversarial(10 * MB)))
    // What the classifier makes of the input does not depend on how much more text follows the
    // part it reads. Its time is measured by `npm run bench` (W5), not asserted here.
    expect(ten._tag).toBe(one._tag)
    expect(ten.userMessage).toBe(one.userMessage)
    const withoutNote = (text: string) => text.replace(/ \[cut: \d+ characters, the first \d+ kept\]$/, "")
    expect(withoutNote(ten.technicalMessage)).toBe(withoutNote(one.technicalMessage))
    expect(ten.technicalMessage.length).toBeLessThanOrEqual(MAX_TECHNICAL_WITH_NOTE)
    const started = performance.now()
    Classify.classifyDatabaseError(new Error(adversarial(MB)))
    console.info(`1 MB hostile message: ${(performance.now() - started).toFixed(3)} ms (logged, not asserted)`)
  })

  it("a huge constraint or column name never reaches the user message", () => {
    const error = Classify.classifyDatabaseError(pgError("23502", "null value violates not-null constraint", {
      column: SECRET_URL,
      constraint: adversarial(MB)
    }))
    expect(error).toMatchObject({ _tag: "ConstraintViolation", kind: "not_null" })
    expect(error.userMessage).not.toContain("postgres")
    expect(error.userMessage).toMatch(/^[\p{L}\p{N} ,.'$-]+$/u)
    for (const text of textsOf(error)) expect(leaks(text), leakContext(text)).toBe(false)
  })

  it("keyColumnsFromDetail and describeSqlState read a bounded prefix: 10 MB gives what 1 MB gives", () => {
    const detailOf = (size: number) => flat(`Key (${"a, ".repeat(Math.ceil(size / 3))}b)=(1) already exists.`)
    const codeOf = (size: number) => flat(" ".repeat(size) + "23505")
    expect(Classify.keyColumnsFromDetail(detailOf(10 * MB))).toEqual(Classify.keyColumnsFromDetail(detailOf(MB)))
    const described = Classify.describeSqlState(codeOf(10 * MB))
    expect(described).toEqual(Classify.describeSqlState(codeOf(MB)))
    expect(described.code.length).toBeLessThanOrEqual(64)
  })
})

const MB_MESSAGE = flat("x".repeat(MB))

/**
 * A node of an endless error graph that counts what is done to it: every Proxy trap of every node
 * is counted, `cause` and `error` are new nodes, `errors` is 16 new nodes, `message` a 1 MB text.
 */
const countingGraph = () => {
  const touched = new Set<number>()
  let traps = 0
  const node = (id: number): object => {
    const count = () => {
      traps++
      touched.add(id)
    }
    return new Proxy(Object.create(null) as object, {
      get: (_, key) => {
        count()
        if (key === "cause" || key === "error") return node(id * 18 + (key === "cause" ? 1 : 2))
        if (key === "errors") return Array.from({ length: 16 }, (_, i) => node(id * 18 + 3 + i))
        if (key === "message") return MB_MESSAGE
        return undefined
      },
      has: () => (count(), false),
      getPrototypeOf: () => (count(), null),
      ownKeys: () => (count(), []),
      getOwnPropertyDescriptor: () => (count(), undefined)
    })
  }
  return { root: node(1), counts: () => ({ nodes: touched.size, traps }) }
}

describe("bounded work, counted (no clock)", () => {
  it("an endless error graph: the walk visits at most 512 nodes, a fixed number of reads each", () => {
    const graph = countingGraph()
    const error = Classify.classifyDatabaseError(graph.root)
    const { nodes, traps } = graph.counts()
    expect(isMember(error)).toBe(true)
    expect(error.technicalMessage).toContain("[cut: ")
    expect(nodes).toBeGreaterThan(16) // it did walk: causes and errors were read
    expect(nodes).toBeLessThanOrEqual(512)
    expect(traps / nodes).toBeLessThanOrEqual(32)
  })

  it("a Cause of 65,536 endless graphs: all the walks of one classification visit at most 2112 nodes", () => {
    const graphs: Array<ReturnType<typeof countingGraph>> = []
    const tree = (depth: number): Cause.Cause<unknown> => {
      if (depth === 0) {
        const graph = countingGraph()
        graphs.push(graph)
        return Cause.die(graph.root)
      }
      let cause = tree(depth - 1)
      for (let i = 1; i < 16; i++) cause = Cause.parallel(cause, tree(depth - 1))
      return Cause.die(cause)
    }
    const input = tree(4)
    expect(graphs.length).toBe(16 ** 4)
    const error = Classify.classifyDatabaseError(input)
    const nodes = graphs.reduce((sum, graph) => sum + graph.counts().nodes, 0)
    expect(isMember(error)).toBe(true)
    expect(nodes).toBeGreaterThan(16)
    // 2048 nodes for all the walks, plus the input of each of at most 64 nested analyses; without
    // the budgets: 65,536 walks of 512 nodes.
    expect(nodes).toBeLessThanOrEqual(2048 + 64)
  })

  it("the JSON form of a classified error reads nothing of its cause but its kind, and never throws", () => {
    const graph = countingGraph()
    const error = Classify.classifyDatabaseError(sqlErrorOf(graph.root))
    const before = graph.counts().traps
    const json = JSON.stringify(error)
    expect(JSON.parse(json).cause).toBe("SqlError")
    expect(graph.counts().traps).toBe(before) // the SqlError's own cause is not even looked at
    const hostile = new Errors.QueryError({ technicalMessage: "t", cause: hostileProxy({}) })
    expect(JSON.parse(JSON.stringify(hostile))).toMatchObject({ _tag: "QueryError", technicalMessage: "t" })
    expect(hostile.cause).not.toBeUndefined() // kept on the error for Cause and debugging
  })
})

describe("clipSecrets: a password the cut goes through never survives, even in part", () => {
  const text = `error at ${SECRET_URL} and password=${PASSWORD} and password='${PASSWORD} a' and ` +
    `pgpassword = "${PASSWORD}" and postgresql://u:${PASSWORD}@h end`
  it("at every cut position", () => {
    expect(leaks(scrubSecrets(text))).toBe(false)
    for (let cut = 0; cut <= text.length + 1; cut++) {
      const clipped = clipSecrets(text, cut)
      expect(leaks(clipped), `cut at ${cut}: ${clipped}`).toBe(false)
      if (cut < text.length) expect(clipped).toContain(`[cut: ${text.length} characters`)
    }
  })
  it("keeps what is no password", () => {
    expect(scrubSecrets("could not connect to postgres://127.0.0.1:5432/app")).toBe(
      "could not connect to postgres://127.0.0.1:5432/app"
    )
    expect(scrubSecrets(`x ${SECRET_URL} y`)).toBe("x postgres://app:***@db.internal:5432/app y")
  })
  it("is linear: 10 MB of `postgres://a:` and of unclosed quotes", () => {
    for (const unit of ["postgres://a:", "password='", "password=\"", "postgres://a" + ":".repeat(100)]) {
      const huge = flat(unit.repeat(Math.ceil(10 * MB / unit.length)))
      const started = performance.now()
      scrubSecrets(huge)
      expect(performance.now() - started, unit).toBeLessThan(2000)
    }
  })
})

// ---------------------------------------------------------------------------
// 2. 10,000 generated values
// ---------------------------------------------------------------------------

/** mulberry32: a tiny seeded PRNG, so a failure reproduces from the seed and the index. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const boom = (what: string) => () => {
  throw new Error(`hostile ${what}`)
}

/** A Proxy whose every trap throws. */
const hostileProxy = <T extends object>(target: T): T =>
  new Proxy(target, {
    get: boom("get"),
    set: boom("set"),
    has: boom("has"),
    ownKeys: boom("ownKeys"),
    getPrototypeOf: boom("getPrototypeOf"),
    getOwnPropertyDescriptor: boom("getOwnPropertyDescriptor"),
    defineProperty: boom("defineProperty"),
    deleteProperty: boom("deleteProperty"),
    isExtensible: boom("isExtensible"),
    preventExtensions: boom("preventExtensions"),
    setPrototypeOf: boom("setPrototypeOf"),
    apply: boom("apply"),
    construct: boom("construct")
  })

const revoked = <T extends object>(target: T): T => {
  const { proxy, revoke } = Proxy.revocable(target, {})
  revoke()
  return proxy
}

/** Object.defineProperty of a getter that throws, for each key. */
const throwingGetters = <T extends object>(target: T, keys: ReadonlyArray<PropertyKey>): T => {
  for (const key of keys) {
    try {
      Object.defineProperty(target, key, { get: boom(`getter ${String(key)}`), enumerable: true, configurable: true })
    } catch {
      // V8 formats an Error's pending `stack` on redefinition, reading the (already hostile) `name`
    }
  }
  return target
}

const SQLSTATES = ["23505", "23503", "23502", "23514", "23P01", "40001", "40P01", "08006", "57014", "42501", "22001",
  "42P01", "XX000", "57P01", "25P02", "P0002", "0A000", "53300"]
const OTHER_CODES = ["PGRST116", "PGRST301", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "ERR_SOCKET_CLOSED"]
const MESSAGES = [
  "deadlock detected",
  "could not serialize access due to concurrent update",
  `duplicate key value violates unique constraint "users_email_key"`,
  `null value in column "email" of relation "users" violates not-null constraint`,
  "Connection terminated unexpectedly",
  "timeout exceeded when trying to connect",
  `connect ECONNREFUSED 127.0.0.1:5432 via ${SECRET_URL}`,
  `password authentication failed for user "app" (password=${PASSWORD})`,
  "canceling statement due to statement timeout"
]
const HOSTILE_KEYS: ReadonlyArray<PropertyKey> = ["code", "message", "cause", "constructor", "toString", "name",
  "errors", "detail", "severity", "constraint", "table", "column", "stack", "_tag", "toJSON", "valueOf",
  Symbol.toPrimitive, Symbol.toStringTag, Symbol.iterator]

/** Shared big things, built once (the generator only picks them). */
const HUGE = {
  mb: adversarial(MB),
  tenMb: adversarial(10 * MB, "postgres://x:"),
  quotes: flat(`constraint "${"\"\"".repeat(MB / 2)}`),
  spaces: flat(`password${" ".repeat(MB)}`),
  manyKeys: Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i])),
  bigArray: Array.from({ length: 100_000 }, (_, i) => new Error(`e${i}`)),
  bigAggregate: new AggregateError(Array.from({ length: 10_000 }, (_, i) => new Error(`refused ${i}`)), "many")
}

/** 10,000 nested causes, ending in a real pg error (readable only past the walk's limit). */
const deepChain = (depth: number, leaf: unknown): unknown => {
  let error = leaf
  for (let i = 0; i < depth; i++) error = new Error(i % 2 === 0 ? HUGE.mb : `wrapper ${i}`, { cause: error })
  return error
}
const DEEP = {
  chain: deepChain(10_000, pgError("40P01", "deadlock detected")),
  causes: (() => {
    let cause: Cause.Cause<unknown> = Cause.die(pgError("40001", "could not serialize access"))
    for (let i = 0; i < 10_000; i++) cause = i % 3 === 0 ? Cause.die(cause) : Cause.sequential(cause, Cause.fail(i))
    return cause
  })(),
  errors: (() => {
    let error: unknown = new Error("leaf")
    for (let i = 0; i < 10_000; i++) error = new AggregateError([error, HUGE.mb], "nested")
    return error
  })(),
  wideCause: Cause.parallel(
    Cause.parallel(Cause.die(Cause.die(Cause.fail(1))), Cause.fail(Cause.fail(Cause.fail(2)))),
    Cause.sequential(Cause.die(Cause.parallel(Cause.die(3), Cause.die(4))), Cause.fail(Cause.die(5)))
  )
}

const generator = (seed: number) => {
  const random = prng(seed)
  const int = (n: number) => Math.floor(random() * n)
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(items.length)]!

  const text = (): string => {
    switch (int(12)) {
      case 0:
        return HUGE.mb
      case 1:
        return HUGE.tenMb
      case 2:
        return HUGE.quotes
      case 3:
        return HUGE.spaces
      case 4:
        return ""
      case 5:
        return pick(MESSAGES)
      case 6:
        return SECRET_URL
      case 7:
        return "\uD800\u0000\uDFFF" + pick(MESSAGES) // lone surrogates and NUL
      case 8:
        return `Key (${pick(["email", "\"we\"\"ird)=(\"", "lower(email::text)", SECRET_URL])})=(row value) already exists.`
      default:
        return Array.from({ length: int(40) }, () => String.fromCharCode(32 + int(95))).join("")
    }
  }

  const primitive = (): unknown =>
    pick<() => unknown>([
      () => null,
      () => undefined,
      () => int(2) === 0,
      () => pick([0, -0, Number.NaN, Infinity, -Infinity, 42, 2 ** 53]),
      () => BigInt(int(1000)) * 10n ** 30n,
      () => Symbol(text().slice(0, 20)),
      () => Symbol.for("effect-pg-resilience/DatabaseError"),
      () => text()
    ])()

  const value = (depth: number): unknown => {
    if (depth > 3) return primitive()
    switch (int(26)) {
      case 0:
      case 1:
        return primitive()
      case 2: {
        const o: Record<string, unknown> = { message: text(), code: pick(SQLSTATES) }
        o.cause = o
        o.errors = [o, o]
        o.self = o
        return o
      }
      case 3:
        return throwingGetters(new Error(text()), HOSTILE_KEYS.filter(() => int(2) === 0))
      case 4:
        return throwingGetters({}, HOSTILE_KEYS)
      case 5:
        return hostileProxy(pick<object>([{}, [], () => 1, new Error("x"), Object.create(null)]))
      case 6:
        return revoked(pick<object>([{}, [], () => 1, new Error("x")]))
      case 7:
        return pick([DEEP.chain, DEEP.causes, DEEP.errors, DEEP.wideCause])
      case 8:
        return new AggregateError(Array.from({ length: int(20) }, () => value(depth + 1)), text())
      case 9:
        return pick([HUGE.bigAggregate, HUGE.manyKeys, HUGE.bigArray])
      case 10:
        return Object.freeze(pgError(pick(SQLSTATES), text(), { detail: text(), constraint: text() }))
      case 11: {
        const o = Object.create(null) as Record<string, unknown>
        o.code = pick([...SQLSTATES, ...OTHER_CODES])
        o.message = text()
        o.cause = value(depth + 1)
        return o
      }
      case 12:
        // A real SQLSTATE and hostile everything else.
        return pgError(pick(SQLSTATES), text(), {
          detail: pick([text(), hostileProxy({}), 42, null]),
          hint: text(),
          where: text(),
          severity: pick(["ERROR", "FATAL", "PANIC", text(), hostileProxy({}), undefined]),
          constraint: pick([text(), revoked({}), undefined]),
          table: pick([text(), hostileProxy({}), undefined]),
          column: pick([text(), SECRET_URL, undefined]),
          schema: text(),
          dataType: text(),
          details: value(depth + 1),
          errors: pick([hostileProxy([]), revoked([]), [value(depth + 1)], HUGE.bigArray])
        })
      case 13:
        return throwingGetters(pgError(pick(SQLSTATES), text()), pick([["detail"], ["message"], ["severity", "table"]]))
      case 14:
        return new SqlError({ cause: value(depth + 1), message: pick(["Failed to execute statement", text()]) })
      case 15:
        return pick<() => unknown>([
          () => Cause.fail(value(depth + 1)),
          () => Cause.die(value(depth + 1)),
          () => Cause.sequential(Cause.die(value(depth + 1)), Cause.fail(value(depth + 1))),
          () => Cause.parallel(Cause.interrupt(FiberId.none), Cause.die(value(depth + 1))),
          () => Cause.empty,
          () => Exit.fail(value(depth + 1)),
          () => Exit.die(value(depth + 1)),
          () => Exit.succeed(1),
          // A FiberFailure pretty-prints its Cause when built (a 10,000-deep one overflows the
          // stack, a bigint defect throws): only defects it can print.
          () => Runtime.makeFiberFailure(Cause.die(pick([text(), pgError(pick(SQLSTATES), text())])))
        ])()
      case 16:
        return { code: pick([...OTHER_CODES, text(), 5, null]), message: text(), syscall: pick(["connect", text()]) }
      case 17:
        return { code: pick(["PGRST116", "PGRST301", `PGRST${PASSWORD}`, `PGRST ${SECRET_URL}`]), message: text(), details: text(), hint: text() }
      case 18: {
        // An object whose `cause` is a new object every time: an infinite lazy chain.
        const lazy = (n: number): object => ({
          message: `lazy ${n}`,
          get cause() {
            return lazy(n + 1)
          }
        })
        return lazy(0)
      }
      case 19:
        // Our own errors are returned unchanged (their texts are the constructing code's business).
        return new Errors.Deadlock({ technicalMessage: "built by the application", cause: value(depth + 1) })
      case 20:
        return { _tag: pick(["Deadlock", "SqlError", text()]), message: text(), cause: value(depth + 1) }
      case 21:
        return Object.assign(() => 1, { code: pick(SQLSTATES), message: text() })
      case 22:
        return pick<() => unknown>([
          () => new Map([[1, value(depth + 1)]]),
          () => new Set([value(depth + 1)]),
          () => new Date(Number.NaN),
          () => /re(g)+ex/,
          () => new Uint8Array(16),
          () => Promise.resolve(1),
          () => new WeakMap(),
          () => [value(depth + 1), value(depth + 1)]
        ])()
      case 23: {
        const error = new Error(text())
        Object.defineProperty(error, "stack", { value: HUGE.tenMb })
        return Object.assign(error, { code: pick([...SQLSTATES, ...OTHER_CODES]), detail: text() })
      }
      case 24:
        return { message: { toString: boom("toString"), [Symbol.toPrimitive]: boom("toPrimitive") }, code: { valueOf: boom("valueOf") } }
      default:
        return Object.setPrototypeOf({ message: text() }, hostileProxy({}))
    }
  }
  return () => value(0)
}

/** Whether the test built `input` as a `SqlError` (a hostile Proxy that throws on inspection is none). */
const isSqlError = (input: unknown): boolean => {
  try {
    return input instanceof SqlError
  } catch {
    return false
  }
}

/** The texts of a result, for the leak check; our own errors passed in are returned unchanged. */
const checkResult = (input: unknown, error: Errors.DatabaseError) => {
  expect(isMember(error)).toBe(true)
  if (error === input || Errors.isDatabaseError(input)) return
  expect(error.technicalMessage.length).toBeLessThanOrEqual(MAX_TECHNICAL_WITH_NOTE)
  expect(error.userMessage).toMatch(/^[\p{L}\p{N} ,.'$-]+$/u)
  for (const text of textsOf(error)) expect(leaks(text), leakContext(text)).toBe(false)
}

const SEED = 20240510
const COUNT = 10_000

/**
 * Runs `check` on the 10,000 values of the seed, timing each; a failure names the value's index
 * (the generator is deterministic: `generator(SEED)` called `index + 1` times rebuilds it).
 */
const overValues = async (check: (input: unknown) => void) => {
  const next = generator(SEED)
  let slowest = 0
  let slowestIndex = -1
  const started = performance.now()
  for (let index = 0; index < COUNT; index++) {
    // Lets the worker answer vitest now and then: a loop that holds the event loop for a minute on
    // a loaded machine makes vitest report "Timeout calling onTaskUpdate" and fail the run.
    if (index % 200 === 0) await new Promise((resolve) => setImmediate(resolve))
    const input = next()
    const one = performance.now()
    try {
      check(input)
    } catch (failure) {
      // No `cause`: the reporter would serialise it, and with it maybe the hostile value.
      throw new Error(`seed ${SEED}, value ${index}: ${failure instanceof Error ? failure.stack : String(failure)}`)
    }
    const elapsed = performance.now() - one
    if (elapsed > slowest) {
      slowest = elapsed
      slowestIndex = index
    }
  }
  return { totalMs: performance.now() - started, slowest, slowestIndex }
}

const summary = (what: string, run: { totalMs: number; slowest: number; slowestIndex: number }): string =>
  `${what}: ${COUNT} generated values (seed ${SEED}) in ${(run.totalMs / 1000).toFixed(2)} s, ` +
  `${(run.totalMs / COUNT).toFixed(3)} ms each on average, slowest ${run.slowest.toFixed(1)} ms (value ${run.slowestIndex})`

describe("10,000 generated values through every function that takes unknown input", () => {
  it("classifyDatabaseError and classifyCommitFailure never throw, answer with a member of the union, leak nothing, stay fast", async () => {
    let classifying = 0
    let slowestClassification = 0
    const run = await overValues((input) => {
      const started = performance.now()
      const error = Classify.classifyDatabaseError(input)
      const elapsed = performance.now() - started
      classifying += elapsed
      slowestClassification = Math.max(slowestClassification, elapsed)
      checkResult(input, error)
      checkResult(input, Classify.classifyCommitFailure(input))
    })
    console.info(
      `${summary("classify + commit + checks", run)}; classifyDatabaseError alone: ` +
        `${(classifying / 1000).toFixed(2)} s, ${(classifying / COUNT).toFixed(3)} ms on average, ` +
        `slowest ${slowestClassification.toFixed(1)} ms`
    )
    // Does not hang on any value (one value, two classifications and the checks); the totals are
    // logged, not asserted: they measure the machine's load as much as the classifier.
    expect(run.slowest).toBeLessThan(2_000)
  })

  it("the other functions that take unknown input never throw and keep their promises", async () => {
    const run = await overValues((input) => {
      const error = Classify.classifyDatabaseError(input)
      expect(typeof Classify.isDatabaseErrorRetryable(input)).toBe("boolean")
      expect(Classify.getDatabaseErrorMessage(input)).toBe(error.userMessage)
      expect(Classify.getDatabaseRecoveryAction(input)).toBe(error.recoveryAction)
      expect(typeof Classify.isDatabaseDefect(input)).toBe("boolean")
      expect(typeof Errors.isDatabaseError(input)).toBe("boolean")
      expect(isMember(Effect.runSync(Classify.classify(input)))).toBe(true)

      // refineErrors / refineCause, on Causes built with Cause.fail / Cause.die (`Effect.fail`
      // itself reads the value, and throws on a hostile Proxy): SqlError failures and database
      // defects become members of the union; every other failure and defect is kept as it was.
      const failed = Effect.runSyncExit(Classify.refineErrors(Effect.failCause(Cause.fail(input))))
      expect(Exit.isFailure(failed)).toBe(true)
      if (Exit.isFailure(failed)) {
        const failure = Cause.failureOption(failed.cause)
        expect(failure._tag).toBe("Some")
        if (failure._tag === "Some") {
          if (isSqlError(input)) expect(isMember(failure.value)).toBe(true)
          else expect(Object.is(failure.value, input)).toBe(true)
        }
      }
      const died = Effect.runSyncExit(Classify.refineErrors(Effect.failCause(Cause.die(input))))
      expect(Exit.isFailure(died)).toBe(true)
      if (Exit.isFailure(died)) {
        if (Classify.isDatabaseDefect(input)) {
          const failure = Cause.failureOption(died.cause)
          expect(failure._tag === "Some" && isMember(failure.value)).toBe(true)
        } else {
          const defect = Cause.dieOption(died.cause)
          expect(defect._tag === "Some" && Object.is(defect.value, input)).toBe(true)
        }
      }
      expect(Cause.isCause(Classify.refineCause(Cause.sequential(Cause.fail(input), Cause.die(input))))).toBe(true)
      if (typeof input === "string") {
        const columns = Classify.keyColumnsFromDetail(input)
        expect(columns === undefined || Array.isArray(columns)).toBe(true)
        expect(typeof Classify.describeSqlState(input).tag).toBe("string")
      }
    })
    console.info(summary("the other public functions", run))
    expect(run.slowest).toBeLessThan(2_000)
  })
})
