/**
 * Keeps connection-string passwords out of messages and logs, in time linear in the text.
 *
 * Why linear: the texts come from outside (error messages, details, hints) and may be huge or
 * crafted. The former `postgres://user:pass@` pattern scanned to the end of the text from every
 * `postgres://` that had no `@`, so 520 KB of text took 10 s. Each pattern here consumes what it
 * scans (a match never fails after a long scan), and `clipSecrets` cuts a text before any pattern
 * work, so its cost is bounded by the cut, not by the input.
 *
 * @internal
 */

/**
 * `scheme://user:` and the password up to the next `@` or blank. Deliberately without the `@`: the
 * match always succeeds once `:` is found, so a later `postgres://` inside the scanned run is never
 * rescanned (that retry was the quadratic part). The replacer checks what follows the match.
 */
const credentialsInUrl = /\b(postgres(?:ql)?:\/\/)([^:@/\s]*):[^@\s]*/gi

/**
 * `password=value`, `PGPASSWORD=value`. A quoted value runs to its closing quote or, when the
 * quote is never closed, to the end of the text (the value may have been cut): never a partial
 * redaction, and never a scan that fails after running to the end.
 */
const passwordParameter = /\b((?:pg)?password\s*=\s*)(?:'[^']*'?|"[^"]*"?|[^\s&]+)/gi

/** What follows `host:` in a URL without userinfo: a port, then maybe a path, query or next host. */
const portAndRest = /^\d{0,5}(?:[/?#,;)\]}'"].*)?$/s

const scrub = (text: string, openEnd: boolean): string =>
  text
    .replace(credentialsInUrl, (match: string, scheme: string, user: string, offset: number, whole: string) => {
      const next = whole.charAt(offset + match.length)
      const rest = match.slice(scheme.length + user.length + 1)
      // `@` follows: userinfo with a password. Nothing follows and the text was cut: the password
      // may be cut too (`postgres://app:s3cr`), so it goes, even if it looks like a port. No `@` at
      // all: `host:port` stays; anything else may be a password cut short before it reached us.
      const password = next === "@" || (openEnd && next === "") ||
        (!user.startsWith("[") && !portAndRest.test(rest)) // `[::1]:5432` is an IPv6 host
      return password ? `${scheme}${user}:***` : match
    })
    .replace(passwordParameter, "$1***")

/** A URL fit for a log line: the password (in the userinfo or in a `password=` parameter) replaced by `***`. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = "***"
    if (parsed.searchParams.has("password")) parsed.searchParams.set("password", "***")
    return parsed.toString()
  } catch {
    return scrubSecrets(url)
  }
}

/**
 * Removes every credential a free text could carry (URLs with a password, `password=` pairs).
 * Linear in the length of the text; prefer `clipSecrets` for text from outside, which also bounds
 * the length.
 */
export const scrubSecrets = (text: string): string => scrub(text, false)

/**
 * How many characters of an outside text `clipSecrets` keeps by default. Why: enough for any real
 * PostgreSQL message, detail or hint; small enough that pattern work on it costs microseconds.
 */
export const MAX_OUTSIDE_TEXT = 4096

/**
 * An outside text made safe to keep: cut to at most `max` characters (plus a marker saying how
 * long it was) BEFORE any pattern work, then scrubbed. A password the cut went through is removed
 * whole: a trailing `postgres://user:pa` without its `@`, or an unclosed `password='pa`, is
 * scrubbed to the end. Why: the cost is bounded by `max` whatever the input (1 MB or 10 MB).
 */
export const clipSecrets = (text: string, max: number = MAX_OUTSIDE_TEXT): string => {
  if (text.length <= max) return scrub(text, false)
  let end = Math.max(0, Math.floor(max))
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end-- // never keep half of a surrogate pair
  return `${scrub(text.slice(0, end), true)}... [cut: ${text.length} characters, the first ${end} kept]`
}
