/**
 * `pg-resilience serve`: liveness, readiness, health JSON and Prometheus metrics over HTTP, with
 * the health monitor running inside the server's scope.
 *
 * @internal
 */
import { Command, Options } from "@effect/cli"
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { createServer } from "node:http"
import * as Health from "../Health.js"
import * as HealthMonitor from "../HealthMonitor.js"
import { prometheusTextWhere } from "../Metrics.js"
import { durationOption, integerOption, invalid } from "./duration.js"
import { CliError, oneLine } from "./errors.js"
import { expectedReplicasOption, healthLayer } from "./healthOptions.js"
import { cliJson } from "./render.js"
import { embeddedOption, probeTimeoutOption, resolveTarget, urlOption } from "./target.js"
import { loadThresholds, thresholdsOption } from "./thresholds.js"

const port = integerOption("port", { description: "TCP port to listen on (0: any free port)", default: 9187, min: 0, max: 65535 })
const host = Options.text("host").pipe(
  Options.withDescription("address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)"),
  Options.withDefault("127.0.0.1"),
  Options.mapEffect((text) =>
    text.trim() === "" || /\s/.test(text)
      ? invalid(`--host ${JSON.stringify(text)} is not an address (e.g. 127.0.0.1, 0.0.0.0, ::1, localhost)`)
      : Effect.succeed(text)
  )
)
const interval = durationOption("interval", { description: "time between health checks", default: "15s", max: "1 day" })

/**
 * Ready while nothing known is worse than DEGRADED: UNKNOWN (a figure hidden from the role) is
 * ready, since the database answers; it is reported in /health and /metrics, not by refusing traffic.
 */
const ready = (status: Health.DatabaseHealthStatus) => status === "HEALTHY" || status === "DEGRADED" || status === "UNKNOWN"

/**
 * What /metrics exports: the health gauges, but not those of the command's own idle pool, and no
 * transaction metrics (the command runs no transactions).
 */
const exported = (name: string) => name.startsWith("pg_resilience_health_") && !Health.applicationGaugeNames.has(name)

/** The routes; every answer comes from the monitor's latest result, so none waits on the database. */
export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/livez", HttpServerResponse.text("ok\n")),
  HttpRouter.get(
    "/readyz",
    Effect.flatMap(HealthMonitor.HealthMonitor, (monitor) =>
      Effect.map(monitor.latest, (latest) =>
        Option.match(latest, {
          onNone: () => HttpServerResponse.text("no health result yet\n", { status: 503 }),
          onSome: (check) =>
            HttpServerResponse.text(`${check.status}\n`, { status: ready(check.status) ? 200 : 503 })
        })))
  ),
  HttpRouter.get(
    "/health",
    Effect.flatMap(HealthMonitor.HealthMonitor, (monitor) =>
      Effect.flatMap(monitor.latest, (latest) =>
        Option.match(latest, {
          onNone: () => HttpServerResponse.json({ status: "UNKNOWN", message: "no health result yet" }, { status: 503 }),
          onSome: (check) => HttpServerResponse.json(cliJson(check), { status: ready(check.status) ? 200 : 503 })
        })))
  ),
  HttpRouter.get(
    "/metrics",
    Effect.map(prometheusTextWhere(exported), (text) =>
      HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
  )
)

export const serveCommand = Command.make(
  "serve",
  {
    url: urlOption,
    embedded: embeddedOption,
    port,
    host,
    interval,
    thresholds: thresholdsOption,
    probeTimeout: probeTimeoutOption,
    expectedReplicas: expectedReplicasOption
  },
  ({ embedded, expectedReplicas, host, interval, port, probeTimeout, thresholds, url }) =>
    Effect.gen(function*() {
      const every = interval
      const custom = yield* loadThresholds(thresholds)
      const target = yield* resolveTarget({ url, embedded })
      const monitor = HealthMonitor.layer({
        interval: every,
        onStatusChange: (check) => Console.log(`${check.lastChecked} ${check.message}`)
      })
      const listening = NodeHttpServer.layer(createServer, { port, host }).pipe(
        Layer.catchAll((error) =>
          Layer.fail(
            new CliError({
              message: `cannot listen on ${host}:${port} (--host, --port): ${oneLine(String((error.cause as Error)?.message ?? error.cause))}`
            })
          )
        )
      )
      const server = HttpServer.serve(router).pipe(
        Layer.provide(monitor),
        Layer.provide(healthLayer(target, { probeTimeoutMillis: probeTimeout, thresholds: custom, expectedReplicas })),
        Layer.provideMerge(listening)
      )
      // Built in the command's scope: the server is listening (and serving the routes) when this
      // returns, so the line below names the address actually bound (the port chosen for --port 0).
      const context = yield* Layer.build(server)
      const address = Context.get(context, HttpServer.HttpServer).address
      const where = address._tag === "TcpAddress"
        ? `http://${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${address.port}`
        : address.path
      yield* Console.log(`pg-resilience serving ${target.label} on ${where} (checks every ${Duration.format(every)})`)
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Serve /livez, /readyz, /health and /metrics (Prometheus) over HTTP."))
