/**
 * Keeps connection-string passwords out of messages and logs.
 *
 * @internal
 */

const credentialsInUrl = /\b(postgres(?:ql)?:\/\/)([^:@/\s]*):([^@\s]*)@/gi
const passwordParameter = /\b(password\s*=\s*)('[^']*'|"[^"]*"|[^\s&]+)/gi

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

/** Removes every credential a free text could carry (URLs with a password, `password=` pairs). */
export const scrubSecrets = (text: string): string =>
  text.replace(credentialsInUrl, "$1$2:***@").replace(passwordParameter, "$1***")
