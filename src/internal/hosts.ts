/**
 * Several hosts for one database, as libpq has them: a connection URL with a comma-separated host
 * list (`postgres://h1:5432,h2:5433/app?target_session_attrs=read-write`) and `target_session_attrs`
 * deciding which server a new connection may stay on. node-postgres knows one host: this module
 * decides which host a new connection tries next and whether the server it reached will do.
 *
 * @internal
 */

/** One server address. */
export interface HostAddress {
  readonly host: string
  readonly port: number
}

/** libpq's `target_session_attrs`. */
export const targetSessionAttrsValues = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"] as const

/** @internal */
export type TargetSessionAttrs = typeof targetSessionAttrsValues[number]

/** What a server says about itself when a session starts (ParameterStatus, PostgreSQL 14+), or was asked. */
export interface SessionState {
  /** `in_hot_standby`: the server is a standby replaying WAL. */
  readonly inHotStandby: boolean
  /** `default_transaction_read_only`: new transactions are read-only by default. */
  readonly defaultReadOnly: boolean
}

/** A connection URL split into its hosts and the rest. */
export interface ParsedHosts {
  readonly hosts: ReadonlyArray<HostAddress>
  /** The same URL with only the first host, for everything else node-postgres parses from it. */
  readonly firstHostUrl: string
  readonly targetSessionAttrs: TargetSessionAttrs | undefined
}

const defaultPort = 5432

const parseHostPort = (text: string): HostAddress | undefined => {
  if (text === "") return undefined
  // [::1]:5432, [::1], host:5432, host
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : defaultPort }
  const colon = text.lastIndexOf(":")
  if (colon > 0 && /^\d+$/.test(text.slice(colon + 1))) {
    return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) }
  }
  return { host: text, port: defaultPort }
}

/**
 * Splits a `postgres://` URL with one or more hosts. Returns `undefined` for a URL it cannot read
 * (the configuration schema reports it). Ports default to 5432; a host without a port gets the
 * default, as in libpq.
 */
export const parseHosts = (url: string): ParsedHosts | undefined => {
  const match = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/i.exec(url)
  if (!match) return undefined
  const [, scheme, authority, rest] = match as unknown as [string, string, string, string]
  const at = authority.lastIndexOf("@")
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : ""
  const hostList = at >= 0 ? authority.slice(at + 1) : authority
  const hosts: Array<HostAddress> = []
  const parts = hostList === "" ? [] : hostList.split(",").map((part) => part.trim())
  for (const part of parts) {
    const parsed = parseHostPort(decodeURIComponent(part))
    if (parsed === undefined) return undefined
    if (!Number.isInteger(parsed.port) || parsed.port < 1 || parsed.port > 65535) return undefined
    hosts.push(parsed)
  }
  const query = rest.includes("?") ? rest.slice(rest.indexOf("?") + 1).split("#")[0]! : ""
  const attrs = new URLSearchParams(query).get("target_session_attrs") ?? undefined
  if (attrs !== undefined && !(targetSessionAttrsValues as ReadonlyArray<string>).includes(attrs)) return undefined
  // node-postgres must not see target_session_attrs (it does not know it): it is ours. The first
  // host is kept as written (no port added), so the URL means to node-postgres what it says.
  const params = new URLSearchParams(query)
  params.delete("target_session_attrs")
  const path = rest.includes("?") ? rest.slice(0, rest.indexOf("?")) : rest
  const search = attrs === undefined ? query : params.toString()
  return {
    hosts,
    firstHostUrl: `${scheme}${userinfo}${parts[0] ?? ""}${path}${search ? `?${search}` : ""}`,
    targetSessionAttrs: attrs as TargetSessionAttrs | undefined
  }
}

/**
 * Whether a session on a server in `state` will do for `attrs`. `prefer-standby` takes any server in
 * its second pass (`pass` 2), a standby only in its first.
 */
export const sessionMatches = (attrs: TargetSessionAttrs, state: SessionState, pass: 1 | 2 = 1): boolean => {
  switch (attrs) {
    case "any":
      return true
    case "read-write":
      return !state.inHotStandby && !state.defaultReadOnly
    case "read-only":
      return state.inHotStandby || state.defaultReadOnly
    case "primary":
      return !state.inHotStandby
    case "standby":
      return state.inHotStandby
    case "prefer-standby":
      return pass === 2 || state.inHotStandby
  }
}

/**
 * Which host a new connection tries next. The host that last gave a fitting session comes first;
 * a host that refused or did not fit goes to the back until the others have been tried, so that after
 * a failover new connections find the promoted server without a restart.
 */
export class HostSelector {
  private order: Array<HostAddress>

  constructor(readonly hosts: ReadonlyArray<HostAddress>, readonly attrs: TargetSessionAttrs) {
    this.order = [...hosts]
  }

  /** The hosts to try, in order, for one connection attempt (with `prefer-standby`, each twice: standby pass, then any). */
  candidates(): ReadonlyArray<{ readonly address: HostAddress; readonly pass: 1 | 2 }> {
    const first = this.order.map((address) => ({ address, pass: 1 as const }))
    return this.attrs === "prefer-standby" ? [...first, ...this.order.map((address) => ({ address, pass: 2 as const }))] : first
  }

  /** A fitting session was had on `address`: it goes first. */
  succeeded(address: HostAddress): void {
    this.order = [address, ...this.order.filter((a) => !sameAddress(a, address))]
  }

  /** `address` refused, failed or did not fit: it goes last. */
  failed(address: HostAddress): void {
    if (this.order.length < 2) return
    this.order = [...this.order.filter((a) => !sameAddress(a, address)), address]
  }
}

export const sameAddress = (a: HostAddress, b: HostAddress): boolean => a.host === b.host && a.port === b.port
