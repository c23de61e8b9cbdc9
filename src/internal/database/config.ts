/**
 * The pool's options: their schema, the checks between them, and how the connection settings
 * (a URL and/or separate fields) become what node-postgres is given.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { Duplex } from "node:stream"
import type { ConnectionOptions } from "node:tls"
import { parse as parseConnectionString } from "pg-connection-string"
import type { TypeParsers } from "../../Database.js"
import { type HostAddress, parseHosts, type TargetSessionAttrs, targetSessionAttrsValues } from "../hosts.js"
import {
  DurationInput,
  FiniteDuration,
  FunctionValue,
  makeOptionsValidator,
  type OptionIssue,
  PositiveDuration
} from "../schema.js"

const isPostgresUrl = (url: string): boolean => {
  // A libpq multi-host URL (`postgres://h1,h2/db`) is read host by host; WHATWG URL takes one host.
  const hosts = parseHosts(url)
  if (hosts === undefined) return false
  try {
    const parsed = new URL(hosts.firstHostUrl)
    return parsed.protocol === "postgres:" || parsed.protocol === "postgresql:"
  } catch {
    return false
  }
}

const HostEntry = Schema.Struct({
  host: Schema.String.pipe(Schema.minLength(1, { message: () => "must be a non-empty string" })),
  port: Schema.optional(
    Schema.Number.pipe(
      Schema.filter((n) => Number.isInteger(n) && n >= 1 && n <= 65_535, { message: () => "must be an integer from 1 to 65535" })
    )
  )
})

const Secret = Schema.Union(Schema.RedactedFromSelf(Schema.String), Schema.Redacted(Schema.String))

const ConnectionUrl = Secret.pipe(
  Schema.filter((url) => isPostgresUrl(Redacted.value(url)), {
    message: () => "must be a postgres:// or postgresql:// connection URL"
  })
)

const Text = Schema.String.pipe(Schema.minLength(1, { message: () => "must be a non-empty string" }))

const Port = Schema.Number.pipe(
  Schema.filter((n) => Number.isInteger(n) && n >= 1 && n <= 65_535, { message: () => "must be an integer from 1 to 65535" })
)

const connectionCount = (min: number) =>
  Schema.Number.pipe(
    Schema.filter((n) => Number.isInteger(n) && n >= min && n <= 10_000, {
      message: () => `must be an integer from ${min} to 10000`
    })
  )

const ApplicationName = Schema.String.pipe(
  Schema.filter((s) => Buffer.byteLength(s) <= 63 && /^[\x20-\x7e]*$/.test(s), {
    message: () => "must be at most 63 printable ASCII characters"
  })
)

const Ssl = Schema.Union(Schema.Boolean, Schema.Object)

const TypeParsersSchema = Schema.declare(
  (u): u is TypeParsers =>
    typeof u === "object" && u !== null && typeof (u as { getTypeParser?: unknown }).getTypeParser === "function",
  { message: () => "must be an object with a getTypeParser function (such as pg's `types`)" }
)

/** The connection lifetime: greater than zero; an infinite one means none. */
const Lifetime = DurationInput.pipe(
  Schema.filter((d) => Duration.greaterThan(d, Duration.zero), { message: () => "must be a duration greater than zero" })
)

/** The defaults that differ from @effect/sql-pg's (see the README). */
export const defaultApplicationName = "effect-pg-resilience"

/**
 * The validated options. What has a counterpart in the URL (host, port, username, password,
 * database, applicationName) is left unset here and resolved by `resolve`.
 */
export const DatabaseConfigSchema = Schema.Struct({
  url: Schema.optional(ConnectionUrl),
  hosts: Schema.optional(Schema.Array(HostEntry).pipe(Schema.minItems(1, { message: () => "must list at least one host" }))),
  targetSessionAttrs: Schema.optional(Schema.Literal(...targetSessionAttrsValues)),
  host: Schema.optional(Text),
  port: Schema.optional(Port),
  path: Schema.optional(Text),
  ssl: Schema.optional(Ssl),
  database: Schema.optional(Text),
  username: Schema.optional(Text),
  password: Schema.optional(Secret),
  stream: Schema.optional(FunctionValue<() => Duplex>()),
  idleTimeout: Schema.optionalWith(FiniteDuration, { default: () => Duration.seconds(10) }),
  connectTimeout: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(5) }),
  maxConnections: Schema.optionalWith(connectionCount(1), { default: () => 10 }),
  minConnections: Schema.optionalWith(connectionCount(0), { default: () => 0 }),
  connectionTTL: Schema.optional(Lifetime),
  applicationName: Schema.optional(ApplicationName),
  spanAttributes: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  transformResultNames: Schema.optional(FunctionValue<(name: string) => string>()),
  transformQueryNames: Schema.optional(FunctionValue<(name: string) => string>()),
  transformJson: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  types: Schema.optional(TypeParsersSchema),
  cancelGrace: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(2) }),
  keepAlive: Schema.optionalWith(Schema.Union(Schema.Literal(false), FiniteDuration), {
    default: () => Duration.seconds(10)
  })
})

type Decoded = typeof DatabaseConfigSchema.Type

/** A validated configuration: the decoded options, with what the URL says filled in. */
export interface DatabaseConfig extends Decoded {
  readonly applicationName: string
}

/**
 * The servers a pool may connect to, and which session will do: the `hosts` option, else the URL's
 * host list (`postgres://h1:5432,h2:5432/db`), with `targetSessionAttrs` (or the URL's
 * `target_session_attrs`; default `any`). `undefined` for a single server with no preference, which
 * needs nothing but node-postgres.
 */
export const failoverOf = (
  config: DatabaseConfig
): { readonly hosts: ReadonlyArray<HostAddress>; readonly targetSessionAttrs: TargetSessionAttrs } | undefined => {
  const fromUrl = config.url !== undefined ? parseHosts(Redacted.value(config.url)) : undefined
  const hosts: ReadonlyArray<HostAddress> = config.hosts !== undefined
    ? config.hosts.map((h) => ({ host: h.host, port: h.port ?? config.port ?? 5432 }))
    : fromUrl?.hosts ?? []
  const attrs = config.targetSessionAttrs ?? fromUrl?.targetSessionAttrs ?? "any"
  if (hosts.length <= 1 && attrs === "any") return undefined
  if (hosts.length === 0) return { hosts: [{ host: config.host ?? "localhost", port: config.port ?? 5432 }], targetSessionAttrs: attrs }
  return { hosts, targetSessionAttrs: attrs }
}

// ---------------------------------------------------------------------------
// The connection settings: a URL, separate fields, or both
// ---------------------------------------------------------------------------

/** What the URL says, as node-postgres reads it (empty components dropped). */
type UrlSettings = Readonly<Record<string, unknown>>

const urlSettings = (url: Redacted.Redacted<string> | undefined): UrlSettings => {
  if (url === undefined) return {}
  // With several hosts, node-postgres reads the URL as if it named the first one (the pool picks the host).
  const text = Redacted.value(url)
  const parsed = parseConnectionString(parseHosts(text)?.firstHostUrl ?? text)
  return Object.fromEntries(Object.entries(parsed).filter(([, value]) => value !== undefined && value !== null && value !== ""))
}

/** `path` is a socket directory (`/var/run/postgresql`) or a socket file (`/tmp/.s.PGSQL.5432`). */
const socketOf = (path: string): { readonly directory: string; readonly port: number | undefined } => {
  const file = /^(.*)\/\.s\.PGSQL\.(\d+)$/.exec(path)
  return file ? { directory: file[1] === "" ? "/" : file[1]!, port: Number(file[2]) } : { directory: path, port: undefined }
}

/** The fields that may be given in the URL and separately, with node-postgres's name for each. */
const shared = [
  ["host", "host"],
  ["port", "port"],
  ["username", "user"],
  ["password", "password"],
  ["database", "database"],
  ["applicationName", "application_name"]
] as const

/** The settings given outside the URL, under node-postgres's names. */
const fieldSettings = (config: Decoded): Record<string, unknown> => {
  const socket = config.path === undefined ? undefined : socketOf(config.path)
  const settings: Record<string, unknown> = {
    host: socket?.directory ?? config.host,
    port: config.port ?? socket?.port,
    user: config.username,
    password: config.password === undefined ? undefined : Redacted.value(config.password),
    database: config.database,
    application_name: config.applicationName
  }
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined))
}

const same = (a: unknown, b: unknown) => String(a) === String(b)

const checks = (config: Decoded): ReadonlyArray<OptionIssue> => {
  const issues: Array<OptionIssue> = []
  let fromUrl: UrlSettings = {}
  try {
    fromUrl = urlSettings(config.url)
  } catch {
    issues.push({ field: "url", reason: "could not be read as a connection URL (a certificate or key file it names may be missing)" })
  }
  if (config.url === undefined && config.host === undefined && config.hosts === undefined && config.path === undefined && config.stream === undefined) {
    issues.push({ field: "url", reason: "is required (or host, hosts, or path)" })
  }
  if (config.hosts !== undefined) {
    if (config.host !== undefined) issues.push({ field: "hosts", reason: "excludes host: list every server in hosts" })
    if (config.path !== undefined) issues.push({ field: "hosts", reason: "excludes path: a socket path is one server" })
    if ((parseHosts(config.url === undefined ? "" : Redacted.value(config.url))?.hosts.length ?? 0) > 1) {
      issues.push({ field: "hosts", reason: "is also given in url (several hosts): give them in one place" })
    }
  }
  if (config.path !== undefined && config.host !== undefined) {
    issues.push({ field: "path", reason: "excludes host: a socket path is where the server is" })
  }
  const fields = fieldSettings(config)
  if (config.path !== undefined && config.port !== undefined && socketOf(config.path).port !== undefined) {
    if (!same(socketOf(config.path).port, config.port)) issues.push({ field: "port", reason: "differs from the port in path" })
  }
  for (const [option, pgName] of shared) {
    const field = config.path !== undefined && option === "host" ? "path" : option
    if (fields[pgName] !== undefined && fromUrl[pgName] !== undefined && !same(fields[pgName], fromUrl[pgName])) {
      issues.push({ field, reason: `differs from the ${option === "applicationName" ? "application_name" : option} in url: give it in one place` })
    }
  }
  if (config.ssl !== undefined && fromUrl.ssl !== undefined) {
    issues.push({ field: "ssl", reason: "is also set in url (sslmode or ssl): give it in one place" })
  }
  if (config.minConnections > config.maxConnections) {
    issues.push({ field: "minConnections", reason: `must not exceed maxConnections (${config.maxConnections})` })
  }
  return issues
}

/** What `field` of a secret says when its value is invalid: never the value. */
const secrets = {
  url: "must be a postgres:// or postgresql:// connection URL",
  password: "must be a string or Redacted",
  ssl: "must be true, false or node's tls.ConnectionOptions"
}

const validateOptions = makeOptionsValidator(DatabaseConfigSchema, { subject: "config", secrets, check: checks })

/** Fills in what the URL says, so that the configuration shows the effective settings. */
const resolve = (config: Decoded): DatabaseConfig => {
  const fromUrl = urlSettings(config.url)
  const port = fromUrl.port !== undefined ? Number(fromUrl.port) : undefined
  const text = (value: unknown) => (typeof value === "string" ? value : undefined)
  const resolved: Record<string, unknown> = {
    ...config,
    host: config.host ?? (config.path === undefined ? text(fromUrl.host) : undefined),
    port: config.port ?? (config.path !== undefined ? socketOf(config.path).port : undefined) ?? port,
    username: config.username ?? text(fromUrl.user),
    password: config.password ?? (fromUrl.password !== undefined ? Redacted.make(String(fromUrl.password)) : undefined),
    database: config.database ?? text(fromUrl.database),
    applicationName: config.applicationName ?? text(fromUrl.application_name) ?? defaultApplicationName
  }
  return Object.fromEntries(Object.entries(resolved).filter(([, value]) => value !== undefined)) as unknown as DatabaseConfig
}

/** Validates options without touching the network: every problem, unknown keys first. */
export const validate = (input: unknown): Either.Either<DatabaseConfig, readonly [OptionIssue, ...Array<OptionIssue>]> =>
  Either.map(validateOptions(input), resolve)

/**
 * node-postgres calls `setKeepAlive` on the socket when `keepAlive` is on (our default), inside a
 * socket event handler where a missing method would crash the process: a stream of the caller's
 * without one gets a no-op.
 */
const withKeepAliveFallback = (factory: (...args: ReadonlyArray<unknown>) => Duplex) => (...args: ReadonlyArray<unknown>) => {
  const stream = factory(...args) as Duplex & { setKeepAlive?: unknown }
  if (typeof stream.setKeepAlive !== "function") stream.setKeepAlive = () => stream
  return stream
}

/**
 * What node-postgres is given to connect: the URL's settings (its query parameters included, e.g.
 * `options=-c search_path=...`), then the separate fields, which `validate` has checked do not
 * contradict them. No `connectionString`: node-postgres would let the URL's empty components
 * overwrite the fields.
 */
export const connectionSettings = (config: DatabaseConfig): Record<string, unknown> => ({
  ...urlSettings(config.url),
  ...fieldSettings(config),
  ...(config.ssl !== undefined ? { ssl: config.ssl as boolean | ConnectionOptions } : {}),
  ...(config.stream !== undefined ? { stream: withKeepAliveFallback(config.stream) } : {}),
  ...(config.types !== undefined ? { types: config.types } : {})
})

/** A label for logs: where the pool connects, never the password. */
export const describeTarget = (config: DatabaseConfig): string => {
  const where = config.path ?? `${config.host ?? "localhost"}:${config.port ?? 5432}`
  return `postgres://${config.username !== undefined ? `${config.username}@` : ""}${where}/${config.database ?? ""}`
}
