/**
 * A TCP proxy between the application and PostgreSQL that can fail the way networks fail:
 *
 * - `pass`: bytes flow both ways;
 * - `refuse`: the port stops listening (new connections get ECONNREFUSED; open ones stay);
 * - `reset`: open connections are reset (RST) and new ones are reset as soon as they arrive;
 * - `blackhole`: nothing is delivered either way, new connections included, and nobody is told.
 *   As TCP would after its retransmissions, what was held is delivered when the network heals
 *   (a client that gave up meanwhile has its close delivered after its last bytes). A connection whose
 *   server side went away during the black hole (a server restarted behind the partition) is one
 *   the server no longer knows: after healing, the client is not told until it sends something,
 *   which is then answered with a reset, as a real peer would;
 *   With `{ only: "replies" }` only the server's side is held: requests arrive, answers do not;
 * - `latency`: every chunk is delayed by `latencyMillis`, order kept.
 */
import { Effect, type Scope } from "effect"
import * as Net from "node:net"

export type FaultMode = "pass" | "refuse" | "reset" | "blackhole" | "latency"

interface Direction {
  readonly from: Net.Socket
  readonly to: Net.Socket
  /** Chunks held during a black hole, and whether the sender's close is held behind them. */
  held: Array<Buffer>
  endHeld: boolean
}

interface Link {
  readonly client: Net.Socket
  readonly server: Net.Socket
  readonly up: Direction
  readonly down: Direction
  /** The server side closed while the network was a black hole. */
  lost: boolean
}

export interface FaultProxy {
  readonly port: number
  /** The same connection URL, through the proxy. */
  readonly via: (url: string) => string
  readonly mode: () => FaultMode
  readonly setMode: (
    mode: FaultMode,
    options?: { readonly latencyMillis?: number; readonly only?: "replies" }
  ) => Effect.Effect<void>
  /** Resets (RST) every open connection, whatever the mode. */
  readonly resetAll: Effect.Effect<void>
  /** Connections open through the proxy now. */
  readonly openConnections: () => number
}

export const make = (target: { readonly host: string; readonly port: number }): Effect.Effect<FaultProxy, never, Scope.Scope> =>
  Effect.gen(function*() {
    let mode: FaultMode = "pass"
    let latencyMillis = 0
    let repliesOnly = false
    const links = new Set<Link>()
    const holds = (link: Link, direction: Direction) =>
      mode === "blackhole" && (!repliesOnly || direction === link.down)

    const deliver = (link: Link, direction: Direction, chunk: Buffer) => {
      if (link.lost) return void link.client.resetAndDestroy()
      if (holds(link, direction)) return void direction.held.push(chunk)
      if (mode === "latency" && latencyMillis > 0) {
        // A chain of timers keeps the order even if the latency changes meanwhile.
        setTimeout(() => direction.to.destroyed || direction.to.write(chunk), latencyMillis)
        return
      }
      if (!direction.to.destroyed) direction.to.write(chunk)
    }
    const close = (link: Link, direction: Direction) => {
      if (holds(link, direction)) return void (direction.endHeld = true)
      const end = () => direction.to.destroyed || direction.to.end()
      if (mode === "latency" && latencyMillis > 0) setTimeout(end, latencyMillis)
      else end()
    }
    const flush = (direction: Direction) => {
      for (const chunk of direction.held.splice(0)) if (!direction.to.destroyed) direction.to.write(chunk)
      if (direction.endHeld && !direction.to.destroyed) direction.to.end()
      direction.endHeld = false
    }
    const reset = (link: Link) => {
      links.delete(link)
      link.client.resetAndDestroy()
      link.server.resetAndDestroy()
    }

    const onConnection = (client: Net.Socket) => {
      if (mode === "reset") return void client.resetAndDestroy()
      const server = Net.connect(target.port, target.host)
      const up: Direction = { from: client, to: server, held: [], endHeld: false }
      const down: Direction = { from: server, to: client, held: [], endHeld: false }
      const link: Link = { client, server, up, down, lost: false }
      links.add(link)
      client.setNoDelay(true)
      server.setNoDelay(true)
      for (const direction of [up, down]) {
        direction.from.on("data", (chunk: Buffer) => deliver(link, direction, chunk))
        direction.from.on("end", () => {
          if (mode === "blackhole" && direction === down) link.lost = true
          else close(link, direction)
        })
        // An abrupt failure on one side: the other side sees a reset, unless the network is a black hole.
        direction.from.on("error", () => {
          if (!holds(link, direction)) direction.to.resetAndDestroy()
          else if (direction === down) link.lost = true
          else direction.endHeld = true
        })
      }
      const forget = () => {
        if (client.destroyed && server.destroyed) links.delete(link)
      }
      client.on("close", forget)
      server.on("close", forget)
    }

    let listener: Net.Server | undefined
    const listen = (port: number) =>
      Effect.async<number>((resume) => {
        const server = Net.createServer({ allowHalfOpen: true }, onConnection)
        server.listen(port, "127.0.0.1", () => {
          listener = server
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address ? address.port : port))
        })
      })
    const stopListening = Effect.async<void>((resume) => {
      const server = listener
      listener = undefined
      if (!server) return resume(Effect.void)
      server.close(() => resume(Effect.void))
    })

    const port = yield* listen(0)
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        Effect.sync(() => {
          for (const link of [...links]) reset(link)
        }),
        stopListening
      )
    )

    return {
      port,
      via: (url) => {
        const parsed = new URL(url)
        parsed.hostname = "127.0.0.1"
        parsed.port = String(port)
        return parsed.toString()
      },
      mode: () => mode,
      setMode: (next, options) =>
        Effect.gen(function*() {
          const previous = mode
          mode = next
          latencyMillis = options?.latencyMillis ?? latencyMillis
          repliesOnly = options?.only === "replies"
          if (next === "refuse" && listener) yield* stopListening
          if (next !== "refuse" && !listener) yield* listen(port)
          if (next === "reset") for (const link of [...links]) reset(link)
          if (previous === "blackhole" && next !== "blackhole") {
            for (const link of links) {
              if (link.lost) {
                // The server forgot this connection: what the client held is refused on arrival.
                if (link.up.held.length > 0) link.client.resetAndDestroy()
                continue
              }
              flush(link.up)
              flush(link.down)
            }
          }
        }),
      resetAll: Effect.sync(() => {
        for (const link of [...links]) reset(link)
      }),
      openConnections: () => links.size
    }
  })
