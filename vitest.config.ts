import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    // One PostgreSQL for the run: DATABASE_URL when set, else an embedded server (see the file).
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2 cores: more workers only add noise to the timing-sensitive suites.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      // `npm test`: everything but the fault suite.
      { extends: true, test: { name: "core", include: ["test/**/*.test.ts"], exclude: ["test/faults/**"] } },
      // `npm run test:faults`: real faults (a server to stop and restart, a TCP fault proxy, PgBouncer),
      // one file at a time so that one file's faults never land on another's timings.
      {
        extends: true,
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          poolOptions: { forks: { singleFork: true } }
        }
      }
    ]
  }
})
