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
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { createServer } from "node:http"
import * as Health from "../Health.js"
import * as HealthMonitor from "../HealthMonitor.js"
import { prometheusText } from "../Metrics.js"
import * as Transaction from "../Transaction.js"
import { CliError } from "./errors.js"
import { healthLayer, probeTimeoutOption, resolveTarget, urlOption } from "./target.js"
import { loadThresholds, thresholdsOption } from "./thresholds.js"
import { parseInterval } from "./watch.js"

const port = Options.integer("port").pipe(Options.withDescription("TCP port to listen on"), Options.withDefault(9187))
const host = Options.text("host").pipe(Options.withDescription("address to listen on"), Options.withDefault("127.0.0.1"))
const interval = Options.text("interval").pipe(
  Options.withDescription("time between health checks, e.g. 15s"),
  Options.withDefault("15s")
)

const ready = (status: Health.DatabaseHealthStatus) => status === "HEALTHY" || status === "DEGRADED"

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
          onSome: (check) => HttpServerResponse.json(check, { status: ready(check.status) ? 200 : 503 })
        })))
  ),
  HttpRouter.get(
    "/metrics",
    Effect.map(prometheusText, (text) =>
      HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
  )
)

// Counters appear in /metrics from the start, at 0, instead of after their first event.
const registerTransactionMetrics = Effect.all([
  Metric.incrementBy(Transaction.metrics.commits, 0),
  Metric.incrementBy(Transaction.metrics.rollbacks, 0),
  Metric.incrementBy(Transaction.metrics.timeouts, 0),
  Metric.incrementBy(Transaction.metrics.unknownCommitOutcomes, 0)
], { discard: true })

export const serveCommand = Command.make(
  "serve",
  { url: urlOption, port, host, interval, thresholds: thresholdsOption, probeTimeout: probeTimeoutOption },
  ({ host, interval, port, probeTimeout, thresholds, url }) =>
    Effect.gen(function*() {
      const every = yield* Option.match(parseInterval(interval), {
        onNone: () => Effect.fail(new CliError({ message: `--interval ${interval} is not a duration (e.g. 15s)` })),
        onSome: Effect.succeed
      })
      const custom = yield* loadThresholds(thresholds)
      const target = yield* resolveTarget(url)
      yield* registerTransactionMetrics
      const monitor = HealthMonitor.HealthMonitor.layer({
        interval: every,
        onStatusChange: (check) => Console.log(`${check.lastChecked} ${check.message}`)
      })
      const server = HttpServer.serve(router).pipe(
        Layer.provide(monitor),
        Layer.provide(healthLayer(target, probeTimeout, custom)),
        Layer.provide(NodeHttpServer.layer(createServer, { port, host }))
      )
      yield* Layer.launch(
        Layer.merge(
          server,
          Layer.effectDiscard(
            Console.log(`pg-resilience serving ${target.label} on http://${host}:${port} (checks every ${Duration.format(every)})`)
          )
        )
      ).pipe(
        Effect.catchTag("ServeError", (error) =>
          Effect.fail(new CliError({ message: `cannot listen on ${host}:${port}: ${String((error.cause as Error)?.message ?? error.cause)}` })))
      )
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Serve /livez, /readyz, /health and /metrics (Prometheus) over HTTP."))
