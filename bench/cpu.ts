/**
 * CPU accounting: this process's CPU time (process.cpuUsage) and, when the server runs on this
 * machine, the CPU time of its backends read from /proc. Why: on a machine whose cores are shared by
 * the client and the server, throughput follows CPU per transaction on both sides, and a wall-clock
 * profile alone cannot tell the two apart.
 */
import { readdirSync, readFileSync } from "node:fs"

const ticksPerSecond = 100

/** CPU ticks per backend pid of the local server backends connected to `database`. */
export type BackendTicks = ReadonlyMap<number, number>

/**
 * CPU ticks so far of every local backend connected to `database` (their process title names it),
 * so that other servers and databases on the machine do not count. Empty when /proc is unreadable
 * or the server is remote.
 */
export const serverBackendTicks = (database: string): BackendTicks => {
  const ticks = new Map<number, number>()
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return ticks
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8")
      if (!cmdline.startsWith("postgres: ") || !cmdline.includes(` ${database} `)) continue
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      // utime and stime are fields 14 and 15 (1-based) of /proc/pid/stat.
      ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]))
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks
}

/**
 * Server CPU seconds between two samples, summed over the backends alive at the end (a backend that
 * started in between counts from zero; one that ended is lost). Null when nothing was seen.
 */
export const serverCpuBetween = (before: BackendTicks, after: BackendTicks): number | null => {
  if (after.size === 0) return null
  let ticks = 0
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0)
  return ticks / ticksPerSecond
}

/** CPU seconds used so far by this process. */
export const clientCpuSeconds = (): number => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1e6
}
