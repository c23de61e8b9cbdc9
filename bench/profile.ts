/**
 * Runs one contender on one workload alone (W1 unless `W3` is given), for profiling:
 * `node --cpu-prof --cpu-prof-dir=.tmp/prof --import tsx bench/profile.ts [ours|effect-sql|pg|...] [seconds] [W1|W3]`.
 * Why separate from run.ts: a profile of the whole alternation mixes every library's frames.
 */
import { drizzleOrm } from "./contenders/drizzle.js"
import { effectSql } from "./contenders/effectSql.js"
import { kysely } from "./contenders/kysely.js"
import { ours } from "./contenders/ours.js"
import { pgRetry, rawPg } from "./contenders/pg.js"
import { slonik } from "./contenders/slonik.js"
import { clientCpuSeconds, serverBackendTicks, serverCpuBetween } from "./cpu.js"
import { openServer } from "./server.js"
import { w1Workload } from "./workloads/w1-uncontended.js"
import { w3Workload } from "./workloads/w3-serialization.js"

const all = [ours, effectSql, rawPg, pgRetry, slonik, kysely, drizzleOrm]
const name = process.argv[2] ?? "ours"
const seconds = Number(process.argv[3] ?? 10)
const workloadId = process.argv[4] ?? "W1"
const contender = all.find((c) => c.name === name)
if (!contender) {
  process.stderr.write(`unknown contender ${name}; one of ${all.map((c) => c.name).join(", ")}\n`)
  process.exit(2)
}

const server = await openServer()
try {
  const workload = workloadId === "W3" ? w3Workload(server, 8) : w1Workload(8)
  const instance = await contender.open({ url: server.url, poolSize: workload.workers })
  const slice = (durationMs: number) => ({ kind: workload.kind, workers: workload.workers, durationMs, next: workload.next })
  await instance.run(slice(2000))
  const client0 = clientCpuSeconds()
  const server0 = serverBackendTicks(server.databaseName)
  const tally = await instance.run(slice(seconds * 1000))
  const perTx = (cpu: number) => ((cpu * 1e6) / tally.committed).toFixed(0)
  process.stdout.write(
    `${name} ${workload.id}: ${(tally.committed / (tally.elapsedMs / 1000)).toFixed(1)} tx/s, ${tally.failed} failed ${JSON.stringify(tally.failuresByCode)}, ` +
      `${tally.attempts} attempts, ` +
      `CPU per transaction: client ${perTx(clientCpuSeconds() - client0)} µs, server ${perTx(serverCpuBetween(server0, serverBackendTicks(server.databaseName)) ?? Number.NaN)} µs\n`
  )
  await instance.close()
} finally {
  await server.close()
}
