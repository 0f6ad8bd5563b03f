/**
 * The small HTTP layer the metadata sources (instance metadata, container endpoints) share.
 *
 * Every request goes through the one call policy (`callPolicy.ts`), and ends in one of four typed
 * failures (unreachable, timeout, HTTP status, unreadable body) that carry no request headers:
 * the headers may hold a metadata token or an authorization token.
 *
 * Requests go through a `Transport`. The default one is Node's `http`/`https` modules, driven
 * from Effect (abort on timeout or interruption, bounded body): loading `@effect/platform`'s
 * `HttpClient` costs some 250 ms on a cold start (it brings `Stream` and `Schema`), and the
 * instance metadata link is the last of the chain, where that time would add to the metadata
 * timeouts of a machine without credentials. A program that wants its own `HttpClient` (a proxy,
 * tracing) passes one in the source's options; `httpPlatform.ts` adapts it.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as http from "node:http"
import * as https from "node:https"
import { droppedCodes, networkCode, networkCodes } from "./callFailure.js"
import * as CallPolicy from "./callPolicy.js"
import { displayUrl, scrub } from "./scrub.js"

/** Header names never shown in spans or printed requests: the tokens the metadata sources send. */
/**
 * Where a header value holds a character an HTTP header cannot carry (only visible ASCII, spaces
 * and tabs can go: not NUL, control characters, DEL or anything beyond ASCII such as an emoji),
 * as `U+1F600 at position 4`; `undefined` when it can be sent. Checked before a request is made,
 * since the request would otherwise fail in the transport, far from the value's origin.
 */
export const headerUnsafe = (value: string): string | undefined => {
  const bad = /[^\t\x20-\x7e]/.exec(value)
  if (bad === null) return undefined
  return `U+${value.codePointAt(bad.index)!.toString(16).toUpperCase().padStart(4, "0")} at position ${bad.index + 1}`
}

export const redactedHeaderNames: ReadonlyArray<string> = ["x-aws-ec2-metadata-token", "authorization"]

/** The most bytes read from a response body; metadata documents are a few hundred bytes. */
export const maxBodyBytes = 64 * 1024

/** A connection could not be made, or was closed before a response arrived. */
export class HttpUnreachable extends Data.TaggedError("HttpUnreachable")<{
  readonly method: string
  readonly url: string
  /** What happened, e.g. `connection refused (ECONNREFUSED)`. */
  readonly detail: string
  /** The connection was made and then closed without a response (rather than refused). */
  readonly dropped: boolean
}> {}

/** No complete response within the timeout. */
export class HttpTimeout extends Data.TaggedError("HttpTimeout")<{
  readonly method: string
  readonly url: string
  readonly timeout: Duration.Duration
}> {}

/** A response with a status outside 200-299. `body` is bounded and may be shown only after checking. */
export class HttpStatus extends Data.TaggedError("HttpStatus")<{
  readonly method: string
  readonly url: string
  readonly status: number
  readonly body: string
}> {}

/** A response whose body could not be read (cut off, too large). */
export class HttpBody extends Data.TaggedError("HttpBody")<{
  readonly method: string
  readonly url: string
  readonly detail: string
  /** The body passed `maxBodyBytes`: the endpoint answered, with something that is not ours to read. */
  readonly tooLarge?: boolean | undefined
}> {}

export type HttpFailure = HttpUnreachable | HttpTimeout | HttpStatus | HttpBody

/** One attempt of a request: any status, or a failure other than `HttpStatus`. */
export interface Transport {
  readonly execute: (
    request: Request,
    timeout: Duration.Duration
  ) => Effect.Effect<HttpResponse, HttpUnreachable | HttpTimeout | HttpBody>
}

/** A response and its body as text (from `send`: always a 2xx status). */
export interface HttpResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export interface Request {
  readonly method: "GET" | "PUT"
  readonly url: string
  /** Plain values: callers unwrap `Redacted` tokens here, at the last moment. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

export interface Policy {
  /** For each attempt: connect, send, and read the whole body. */
  readonly timeout: Duration.Duration
  /**
   * Attempts in all (at least 1) against an endpoint that does not answer (timeouts, refused
   * connections): botocore's `metadata_service_num_attempts`, 1 by default for the metadata
   * service, so that a machine without one is not kept waiting.
   */
  readonly maxAttempts: number
  /**
   * Attempts in all when the endpoint did answer, with something a retry may cure (5xx, 429, a
   * dropped connection, a cut-off body): at least `maxAttempts`, 3 by default. Such answers come fast.
   */
  readonly maxAnsweredAttempts?: number | undefined
  /** The first wait between attempts; doubled each time and jittered (none after a timeout). */
  readonly backoff: Duration.Duration
  /** Which failures are worth another attempt. */
  readonly retryOn: (failure: HttpFailure) => boolean
  /** The whole call, attempts and waits together, ends within this (default: the attempts' timeouts and waits). */
  readonly deadline?: Duration.Duration | undefined
}

/** Unreachable, timed out, 5xx, throttled (429) or cut-off bodies: what a retry may cure. */
export const isTransient = (failure: HttpFailure): boolean =>
  failure._tag === "HttpStatus"
    ? failure.status >= 500 || failure.status === 429
    : failure._tag === "HttpBody"
    ? failure.tooLarge !== true
    : true

/** The endpoint answered (a status, a body, a connection it dropped), as opposed to not at all. */
export const answered = (failure: HttpFailure): boolean =>
  failure._tag === "HttpStatus" || failure._tag === "HttpBody" || (failure._tag === "HttpUnreachable" && failure.dropped)

/** The innermost message of a chain of causes, scrubbed and bounded; none if empty. */
export const innermost = (cause: unknown): string => {
  let message: string | undefined
  let current: unknown = cause
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    if (current.message !== "") message = current.message
    current = current.cause
  }
  return message === undefined ? "" : ` (${scrub(message, { max: 200 })})`
}

/**
 * What a transport error means: after a response started, its body could not be read;
 * before, the endpoint could not be reached (`dropped` when the connection closed on us).
 */
export const transportFailure = (
  request: Request,
  cause: unknown,
  responded: boolean,
  invalidUrl = false
): HttpUnreachable | HttpBody => {
  const code = networkCode(cause)
  if (responded) {
    return new HttpBody({
      method: request.method,
      url: request.url,
      detail: `the response body could not be read${code === undefined ? "" : `: ${networkCodes[code]} (${code})`}`
    })
  }
  return new HttpUnreachable({
    method: request.method,
    url: request.url,
    detail: code !== undefined
      ? `${networkCodes[code]} (${code})`
      : invalidUrl
      ? "invalid URL"
      : `the request failed before a response${innermost(cause)}`,
    dropped: code !== undefined && droppedCodes.has(code)
  })
}

/**
 * Node's `http`/`https`: one request, aborted when the effect is interrupted (the timeout in
 * `send` interrupts it), the body read up to `maxBodyBytes`. No agent keeps sockets open.
 */
export const nodeTransport: Transport = {
  execute: (request) =>
    Effect.async<HttpResponse, HttpUnreachable | HttpBody>((resume) => {
      let url: URL
      try {
        url = new URL(request.url)
      } catch {
        resume(Effect.fail(transportFailure(request, undefined, false, true)))
        return
      }
      const unreachable = (error: unknown, responded: boolean) => transportFailure(request, error, responded)
      const controller = new AbortController()
      const module = url.protocol === "https:" ? https : http
      let responded = false
      const outgoing = module.request(url, {
        method: request.method,
        headers: { ...request.headers, ...(request.method === "PUT" ? { "content-length": "0" } : {}) },
        signal: controller.signal,
        agent: false
      }, (response) => {
        responded = true
        const chunks: Array<Buffer> = []
        let size = 0
        response.on("data", (chunk: Buffer) => {
          size += chunk.length
          if (size > maxBodyBytes) {
            response.destroy()
            resume(Effect.fail(
              new HttpBody({
                method: request.method,
                url: request.url,
                detail: `the response body is larger than ${maxBodyBytes} bytes`,
                tooLarge: true
              })
            ))
            return
          }
          chunks.push(chunk)
        })
        response.on("error", (error) => resume(Effect.fail(unreachable(error, true))))
        response.on("end", () => {
          if (size > maxBodyBytes) return
          const headers: Record<string, string> = {}
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
          }
          resume(Effect.succeed({ status: response.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") }))
        })
      })
      outgoing.on("error", (error) => {
        if (!controller.signal.aborted) resume(Effect.fail(unreachable(error, responded)))
      })
      outgoing.end()
      return Effect.sync(() => controller.abort())
    })
}

/**
 * Sends `request` with `policy`, through the one call policy (`callPolicy.ts`): each attempt
 * under the timeout; failures that `retryOn` accepts are retried, at most `maxAttempts` times in
 * all when the endpoint is silent and `maxAnsweredAttempts` when it answered (both clamped to
 * `CallPolicy.maxAttempts`), after a capped, jittered exponential wait (none after a timeout), all
 * within the policy's total deadline.
 */
export const send = (
  transport: Transport,
  request: Request,
  policy: Policy
): Effect.Effect<HttpResponse, HttpFailure> => {
  const silent = Math.max(1, Math.floor(policy.maxAttempts))
  const budget = Math.max(silent, Math.floor(policy.maxAnsweredAttempts ?? 3))
  const once = transport.execute(request, policy.timeout).pipe(
    Effect.flatMap((response): Effect.Effect<HttpResponse, HttpStatus> =>
      response.status >= 200 && response.status < 300
        ? Effect.succeed(response)
        : Effect.fail(
          new HttpStatus({ method: request.method, url: request.url, status: response.status, body: scrub(response.body, { max: 1024 }) })
        )
    ),
    // Method, URL and status only: never the headers (tokens) or the body. The attempt budget
    // and timeout let an observer (the command line's progress line) say how long is left.
    Effect.withSpan(`http.client ${request.method}`, {
      attributes: {
        "http.request.method": request.method,
        "url.full": displayUrl(request.url),
        "call.attempts": silent,
        "call.timeout_ms": Duration.isFinite(policy.timeout) ? Duration.toMillis(policy.timeout) : -1
      }
    })
  )
  return CallPolicy.run(
    once,
    CallPolicy.make({ timeout: policy.timeout, attempts: budget, backoff: policy.backoff, deadline: policy.deadline }),
    {
      isRetryable: (failure, made) => policy.retryOn(failure) && (answered(failure) || made < silent),
      isTimeout: (failure) => failure._tag === "HttpTimeout",
      timedOut: (limit) => new HttpTimeout({ method: request.method, url: request.url, timeout: limit })
    }
  )
}

/** One line about a failure, for messages: method, URL and what happened; never a header or a body. */
export const describe = (failure: HttpFailure): string => {
  const target = `${failure.method} ${failure.url}`
  switch (failure._tag) {
    case "HttpUnreachable":
      return `${target}: ${failure.detail}`
    case "HttpTimeout":
      return `${target}: no response within ${Duration.format(failure.timeout)}`
    case "HttpStatus":
      return `${target}: HTTP ${failure.status}`
    case "HttpBody":
      return `${target}: ${failure.detail}`
  }
}

/**
 * The `Code` and `Message` of a JSON error body (`{"Code": ..., "Message": ...}` or lower-case),
 * bounded; nothing when the body is not such a document, so that arbitrary bodies are never echoed.
 */
export const errorSummary = (body: string): string | undefined => {
  const parsed = Either.try(() => JSON.parse(body) as unknown)
  if (Either.isLeft(parsed) || typeof parsed.right !== "object" || parsed.right === null) return undefined
  const record = parsed.right as Record<string, unknown>
  const pick = (...keys: Array<string>) => {
    for (const key of keys) {
      const value = record[key]
      if (typeof value === "string" && value !== "") return scrub(value, { max: 200 })
    }
    return undefined
  }
  const code = pick("Code", "code")
  const message = pick("Message", "message")
  if (code === undefined && message === undefined) return undefined
  return [code, message].filter((part) => part !== undefined).join(": ")
}
