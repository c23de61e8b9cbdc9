#!/usr/bin/env node
/**
 * The `pg-resilience` executable: loads the command line (`main.js`) lazily, so that a missing
 * optional peer dependency of the CLI (`@effect/cli`, `@effect/platform-node`, …) is one line naming
 * what to install and exit 3, not a stack trace from Node's module loader.
 *
 * @internal
 */

/** The optional peer dependencies the command line needs (the library itself needs none of them). */
const cliPackages = ["@effect/cli", "@effect/platform", "@effect/platform-node", "@effect/printer", "@effect/printer-ansi"]

/** The package a failed import names, when it is one that is not installed. */
const missingPackage = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null || (error as { code?: unknown }).code !== "ERR_MODULE_NOT_FOUND") {
    return undefined
  }
  const match = /Cannot find package '([^']+)'/.exec(String((error as { message?: unknown }).message))
  return match?.[1]
}

try {
  await import("./main.js")
} catch (error) {
  const name = missingPackage(error)
  if (name === undefined) throw error
  process.stderr.write(
    `pg-resilience: the command line needs ${name}, which is not installed: npm install ${cliPackages.join(" ")}\n`
  )
  process.exit(3)
}
