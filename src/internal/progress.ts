/**
 * The command line's progress line: which link of the chain is running now and what it waits
 * for, learnt from the spans the chain already makes (`AwsCredentials.<source>` around each
 * link, `http.client <METHOD>` around each attempt of a metadata call), through a tracer that
 * wraps the current one. Nothing in the chain knows about it, and no public API is needed.
 *
 * Span attributes hold no secret (method, URL without query, attempt budget, timeout), and the
 * line is escaped like every other line the command line prints.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as Credentials from "../Credentials.js"
import { escapeControls } from "./scrub.js"

interface Running {
  readonly source: Credentials.Source
  readonly span: Tracer.Span
  readonly start: bigint
  /** The spans started inside the link so far (an HTTP attempt, a process run, ...). */
  readonly steps: Array<Tracer.Span>
}

/** How a link ended, as the report says it. */
export type Outcome = "resolved" | "unavailable" | "failed"

/** What the watcher tells its observer. */
export interface Observer {
  readonly linkEnded: (source: Credentials.Source, outcome: Outcome, durationMs: number) => void
}

const linkSource = (name: string): Option.Option<Credentials.Source> => {
  if (!name.startsWith("AwsCredentials.")) return Option.none()
  const rest = name.slice("AwsCredentials.".length)
  return Option.fromNullable(Credentials.sources.find((source) => source === rest))
}

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Outcome =>
  Exit.isSuccess(exit)
    ? "resolved"
    : Option.match(Cause.failureOption(exit.cause), {
      onNone: () => "failed",
      onSome: (error) =>
        typeof error === "object" && error !== null && "_tag" in error && error._tag === "CredentialsUnavailable"
          ? "unavailable"
          : "failed"
    })

const targetOf = (span: Tracer.Span): string => {
  const url = span.attributes.get("url.full")
  const method = span.attributes.get("http.request.method")
  return typeof url === "string" ? `${typeof method === "string" ? method : "GET"} ${url}` : span.name
}

/** The running link, as the chain's spans show it; `current` is read by the renderer. */
export interface Watcher {
  readonly current: () => Running | undefined
  readonly tracer: Tracer.Tracer
}

/** A tracer that forwards every span to `base` and keeps track of the running link. */
export const watch = (base: Tracer.Tracer, observer: Observer): Watcher => {
  let running: Running | undefined = undefined
  const tracer = Tracer.make({
    context: (f, fiber) => base.context(f, fiber),
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = base.span(name, parent, context, links, startTime, kind, options)
      const source = linkSource(name)
      if (running === undefined && Option.isSome(source)) {
        const link: Running = { source: source.value, span, start: startTime, steps: [] }
        running = link
        const end = span.end.bind(span)
        span.end = (endTime, exit) => {
          end(endTime, exit)
          if (running === link) running = undefined
          observer.linkEnded(link.source, outcomeOf(exit), Number(endTime - link.start) / 1e6)
        }
      } else if (running !== undefined) {
        // Attributes are set just after the span is made: the target is read when shown.
        running.steps.push(span)
      }
      return span
    }
  })
  return { current: () => running, tracer }
}

const seconds = (nanos: bigint | number): string => `${(Number(nanos) / 1e9).toFixed(1)} s`

/** The progress line for the running link, or nothing while it has waited for less than `after`. */
export const describe = (running: Running, now: bigint): string => {
  const step = running.steps.at(-1)
  if (step === undefined) return `${running.source}: working (${seconds(now - running.start)})`
  const target = targetOf(step)
  // The n-th span for the same target within this link is its n-th attempt.
  const n = running.steps.filter((other) => targetOf(other) === target).length
  const attempts = step.attributes.get("call.attempts")
  const timeoutMs = step.attributes.get("call.timeout_ms")
  const attempt = `attempt ${n}${typeof attempts === "number" ? ` of ${attempts}` : ""}`
  if (step.status._tag === "Ended") {
    return step.attributes.has("url.full")
      ? `${running.source}: ${target}, ${attempt} failed, retrying`
      : `${running.source}: working (${seconds(now - running.start)})`
  }
  const left = typeof timeoutMs === "number" && timeoutMs >= 0
    ? `, ${seconds(Math.max(0, timeoutMs * 1e6 - Number(now - step.status.startTime)))} left`
    : ""
  return `${running.source}: waiting for ${target}, ${attempt}${left}`
}

const clearLine = "\r\u001b[2K"

/**
 * Runs `effect` with a progress line on `write` (stderr on a terminal): a link that has run for
 * more than `after` shows what it waits for, refreshed every `every`, and is replaced by its
 * outcome when it ends. Nothing is written for links that end sooner.
 */
export const withProgress = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  write: (text: string) => void,
  options: { readonly after?: bigint; readonly every?: number; readonly width?: number | undefined } = {}
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const after = options.after ?? 1_000_000_000n
    const width = options.width !== undefined && options.width > 10 ? options.width - 1 : undefined
    const fit = (line: string) => {
      const escaped = escapeControls(line)
      return width !== undefined && escaped.length > width ? `${escaped.slice(0, width - 1)}…` : escaped
    }
    let shown = false
    const watcher = watch(yield* Effect.tracer, {
      linkEnded: (source, outcome, durationMs) => {
        if (!shown) return
        shown = false
        write(`${clearLine}${fit(`${source}: ${outcome} after ${(durationMs / 1000).toFixed(1)} s`)}\n`)
      }
    })
    const ticker = yield* Effect.fork(Effect.forever(
      Effect.gen(function*() {
        yield* Effect.sleep(options.every ?? 200)
        const running = watcher.current()
        const now = yield* Clock.currentTimeNanos
        if (running === undefined || now - running.start < after) return
        shown = true
        write(`${clearLine}${fit(describe(running, now))}`)
      })
    ))
    return yield* effect.pipe(
      Effect.withTracer(watcher.tracer),
      Effect.ensuring(Effect.zipRight(Fiber.interrupt(ticker), Effect.sync(() => {
        if (shown) write(clearLine)
        shown = false
      })))
    )
  })
