/**
 * ANSI colours for what the command line and the demo print: only to a terminal, and never when
 * `NO_COLOR` is set (https://no-color.org).
 *
 * @internal
 */

/** Whether `stream` may carry ANSI colours: a terminal, and `NO_COLOR` unset or empty. */
export const colourEnabled = (stream: { readonly isTTY?: boolean | undefined }): boolean =>
  stream.isTTY === true && (process.env.NO_COLOR ?? "") === ""

/** The colours, each the identity when `enabled` is false. */
export const colours = (enabled: boolean) => {
  const wrap = (code: string) => (text: string) => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text)
  return {
    red: wrap("31"),
    yellow: wrap("33"),
    green: wrap("32"),
    magenta: wrap("35"),
    cyan: wrap("36"),
    dim: wrap("2"),
    bold: wrap("1")
  }
}

/** What `colours` returns. */
export type Colours = ReturnType<typeof colours>
