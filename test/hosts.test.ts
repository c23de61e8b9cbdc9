/** Multi-host URLs and target_session_attrs, as libpq defines them (pure). */
import { describe, expect, it } from "@effect/vitest"
import { HostSelector, parseHosts, sessionMatches } from "../src/internal/hosts.js"

describe("parseHosts", () => {
  it("splits a comma-separated host list, with default ports, and keeps the rest for node-postgres", () => {
    const parsed = parseHosts("postgres://app:s%40cret@db1:5433,db2,[::1]:6000/shop?sslmode=disable&target_session_attrs=read-write")
    expect(parsed?.hosts).toEqual([{ host: "db1", port: 5433 }, { host: "db2", port: 5432 }, { host: "::1", port: 6000 }])
    expect(parsed?.targetSessionAttrs).toBe("read-write")
    expect(parsed?.firstHostUrl).toBe("postgres://app:s%40cret@db1:5433/shop?sslmode=disable")
  })

  it("reads a single host like any URL", () => {
    expect(parseHosts("postgresql://localhost/app")).toEqual({
      hosts: [{ host: "localhost", port: 5432 }],
      firstHostUrl: "postgresql://localhost/app",
      targetSessionAttrs: undefined
    })
  })

  it("rejects an unknown target_session_attrs, an empty host and a bad port", () => {
    expect(parseHosts("postgres://h1,h2/app?target_session_attrs=leader")).toBeUndefined()
    expect(parseHosts("postgres://h1,,h2/app")).toBeUndefined()
    expect(parseHosts("postgres://h1:70000/app")).toBeUndefined()
    expect(parseHosts("mysql://h1/app")).toBeUndefined()
  })
})

describe("sessionMatches", () => {
  const primary = { inHotStandby: false, defaultReadOnly: false }
  const standby = { inHotStandby: true, defaultReadOnly: true }
  const readOnlyPrimary = { inHotStandby: false, defaultReadOnly: true }
  it("follows libpq's definitions", () => {
    expect([primary, standby, readOnlyPrimary].map((s) => sessionMatches("read-write", s))).toEqual([true, false, false])
    expect([primary, standby, readOnlyPrimary].map((s) => sessionMatches("read-only", s))).toEqual([false, true, true])
    expect([primary, standby, readOnlyPrimary].map((s) => sessionMatches("primary", s))).toEqual([true, false, true])
    expect([primary, standby, readOnlyPrimary].map((s) => sessionMatches("standby", s))).toEqual([false, true, false])
    expect([primary, standby].map((s) => sessionMatches("any", s))).toEqual([true, true])
    expect([primary, standby].map((s) => sessionMatches("prefer-standby", s, 1))).toEqual([false, true])
    expect([primary, standby].map((s) => sessionMatches("prefer-standby", s, 2))).toEqual([true, true])
  })
})

describe("HostSelector", () => {
  const a = { host: "a", port: 1 }
  const b = { host: "b", port: 2 }
  const c = { host: "c", port: 3 }
  it("tries the host that worked first, and puts a failed one last", () => {
    const selector = new HostSelector([a, b, c], "read-write")
    expect(selector.candidates().map((x) => x.address.host)).toEqual(["a", "b", "c"])
    selector.failed(a)
    expect(selector.candidates().map((x) => x.address.host)).toEqual(["b", "c", "a"])
    selector.succeeded(c)
    expect(selector.candidates().map((x) => x.address.host)).toEqual(["c", "b", "a"])
  })
  it("prefer-standby makes two passes: standby only, then any", () => {
    const selector = new HostSelector([a, b], "prefer-standby")
    expect(selector.candidates().map((x) => `${x.address.host}${x.pass}`)).toEqual(["a1", "b1", "a2", "b2"])
  })
})

describe("parseHosts: URLs without a host", () => {
  it("keeps a socket URL (no host, host in the query) readable and unchanged", () => {
    const parsed = parseHosts("postgres:///app?host=/var/run/postgresql")
    expect(parsed?.hosts).toEqual([])
    expect(parsed?.firstHostUrl).toBe("postgres:///app?host=/var/run/postgresql")
  })
})
