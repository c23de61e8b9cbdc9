/**
 * The SQL scripts shipped in `sql/`, rendered for a role the way `psql -v role=...` would.
 *
 * @internal
 */
import { readFile } from "node:fs/promises"
import { quoteIdent } from "./health/sql.js"

/** The scripts a restricted role needs for full health figures. */
export const monitoringScripts = {
  grant: "grant-monitoring.sql",
  securityDefiner: "monitoring-functions.sql"
} as const

/** The text of `sql/<name>` with psql's `:"role"` replaced by the quoted role name. */
export const renderScript = async (name: string, role: string): Promise<string> => {
  // src/internal and dist/internal both sit two levels below the package root.
  const text = await readFile(new URL(`../../sql/${name}`, import.meta.url), "utf8")
  return text.replace(/:"role"/g, quoteIdent(role))
}
