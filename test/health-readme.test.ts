/**
 * The README's health figure table is the operator's reference: it must list every figure the
 * check reports (src/internal/health/figures.ts), with its default thresholds as the code has them.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Health from "../src/Health.js"

const section = (() => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
  const start = readme.indexOf("## Health monitoring")
  return readme.slice(start, readme.indexOf("\n## ", start + 1))
})()

describe("README: the health figure table", () => {
  for (const name of Object.keys(Health.figureDefinitions) as Array<Health.HealthFigure>) {
    it(`lists ${name} with its unknown policy`, () => {
      const row = section.split("\n").find((line) => line.startsWith(`| \`${name}\` |`))
      expect(row, `no row for ${name}`).toBeDefined()
      const cells = row!.split(" | ")
      expect(cells[4]).toBe(Health.figureDefinitions[name].whenUnknown)
    })
  }
})
