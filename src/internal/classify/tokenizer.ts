/**
 * A small SQL tokenizer for the key list of pg's detail text: which column names an index
 * expression such as `lower((email)::text)` or `COALESCE(nick, 'a)=(b'::text)` mentions. It skips
 * string literals, function names, type and collation names and keywords; quoted identifiers are
 * unquoted. Its input is a part of a key list already cut to `MAX_TEXT` characters.
 *
 * @internal
 */

/** Words of an index expression that are no column names. */
const KEYWORDS: ReadonlySet<string> = new Set([
  "and",
  "or",
  "not",
  "null",
  "true",
  "false",
  "is",
  "as",
  "in",
  "case",
  "when",
  "then",
  "else",
  "end",
  "distinct",
  "from",
  "at",
  "time",
  "zone",
  "interval"
])

/** Column names inside an index expression: not function names, types, keywords or literals. */
export const identifiersIn = (expression: string): Array<string> => {
  const out: Array<string> = []
  let i = 0
  let skipNames = false // after `::` or COLLATE: type / collation names follow
  const nextNonSpace = (from: number): string | undefined => {
    let j = from
    while (j < expression.length && /\s/.test(expression[j]!)) j++
    return expression[j]
  }
  while (i < expression.length) {
    const ch = expression[i]!
    if (ch === "'") {
      i++
      while (i < expression.length) {
        if (expression[i] === "'" && expression[i + 1] === "'") i += 2
        else if (expression[i] === "'") break
        else i++
      }
      i++
      skipNames = false
      continue
    }
    if (ch === "\"" || /[A-Za-z_]/.test(ch)) {
      let name: string
      if (ch === "\"") {
        let j = i + 1
        let text = ""
        while (j < expression.length) {
          if (expression[j] === "\"" && expression[j + 1] === "\"") {
            text += "\""
            j += 2
          } else if (expression[j] === "\"") break
          else text += expression[j++]
        }
        name = text
        i = j + 1
      } else {
        const match = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(expression.slice(i))!
        name = match[0]
        i += name.length
      }
      const isFunction = nextNonSpace(i) === "("
      if (ch !== "\"" && name.toLowerCase() === "collate") skipNames = true
      else if (!isFunction && !skipNames && (ch === "\"" || !KEYWORDS.has(name.toLowerCase()))) out.push(name)
      continue
    }
    if (ch === ":" && expression[i + 1] === ":") {
      skipNames = true
      i += 2
      continue
    }
    if (/\s/.test(ch)) {
      i++
      continue
    }
    skipNames = false
    i++
  }
  return out
}
