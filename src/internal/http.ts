/**
 * The small HTTP layer the metadata sources (instance metadata, container endpoints) share, on
 * `@effect/platform`'s `HttpClient`. Loaded on demand, when such a source is actually configured:
 * it brings the HTTP client, `Stream` and, through them, `Schema`.
 *
 * Every request has a timeout and bounded, jittered retries, and ends in one of four typed
 * failures (unreachable, timeout, HTTP status, unreadable body) that carry no request headers:
 * the headers may hold a metadata token or an authorization token.
 *
 * The default client is `FetchHttpClient` (Node's built-in `fetch`): measured on these machines,
 * loading it and making a first request costs about 100 ms less than `NodeHttpClient`
 * (whose module graph is larger), and it needs no scope for an agent.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import { bounded } from "../CredentialsError.js"

/** Header names never shown in spans or printed requests: the tokens the metadata sources send. */
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
}> {}

export type HttpFailure = HttpUnreachable | HttpTimeout | HttpStatus | HttpBody

/** A response with a 2xx status and its body as text. */
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
  /** Attempts in all (at least 1). */
  readonly attempts: number
  /** The first wait between attempts; doubled each time and jittered (none after a timeout). */
  readonly backoff: Duration.Duration
  /** Which failures are worth another attempt. */
  readonly retryOn: (failure: HttpFailure) => boolean
}

/** Unreachable, timed out, 5xx or cut-off bodies: what a retry may cure. */
export const isTransient = (failure: HttpFailure): boolean =>
  failure._tag === "HttpStatus" ? failure.status >= 500 : true

/** The default client: Node's `fetch`, without trace headers in the requests. */
export const defaultClient: Effect.Effect<HttpClient.HttpClient> = HttpClient.HttpClient.pipe(
  Effect.provide(FetchHttpClient.layer)
)

/** Prepares a client for metadata calls: no trace propagation headers (the endpoints do not want them). */
export const prepare = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.withTracerPropagation(client, false)

const networkCodes: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "connection timed out",
  EADDRNOTAVAIL: "address not available",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed",
  UND_ERR_SOCKET: "connection closed by the server",
  UND_ERR_CLOSED: "connection closed",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_HEADERS_TIMEOUT: "no response headers in time"
}

const droppedCodes = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"])

/** The first network error code in a chain of causes (fetch wraps them: `TypeError: fetch failed`). */
const networkCode = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && code in networkCodes) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/** The innermost message of a chain of causes (`fetch failed` wraps e.g. `bad port`), bounded; none if empty. */
const innermost = (cause: unknown): string => {
  let message: string | undefined
  let current: unknown = cause
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    if (current.message !== "") message = current.message
    current = current.cause
  }
  return message === undefined ? "" : ` (${bounded(message, 200)})`
}

const toFailure = (request: Request, error: HttpClientError.HttpClientError): HttpFailure => {
  const code = networkCode(error.cause)
  if (error._tag === "ResponseError") {
    return new HttpBody({
      method: request.method,
      url: request.url,
      detail: `the response body could not be read${code === undefined ? "" : `: ${networkCodes[code]} (${code})`}`
    })
  }
  return new HttpUnreachable({
    method: request.method,
    url: request.url,
    detail: code === undefined
      ? error.reason === "InvalidUrl" ? "invalid URL" : `the request failed before a response${innermost(error.cause)}`
      : `${networkCodes[code]} (${code})`,
    dropped: code !== undefined && droppedCodes.has(code)
  })
}

class TooLarge {
  readonly _tag = "TooLarge"
}

const readBody = (request: Request, stream: Stream.Stream<Uint8Array, HttpClientError.ResponseError>) =>
  stream.pipe(
    Stream.runFoldEffect(
      { chunks: [] as Array<Uint8Array>, size: 0 },
      (acc, bytes): Effect.Effect<{ chunks: Array<Uint8Array>; size: number }, TooLarge> => {
        if (acc.size + bytes.length > maxBodyBytes) return Effect.fail(new TooLarge())
        acc.chunks.push(bytes)
        return Effect.succeed({ chunks: acc.chunks, size: acc.size + bytes.length })
      }
    ),
    Effect.map(({ chunks }) => Buffer.concat(chunks).toString("utf8")),
    Effect.mapError((error) =>
      error instanceof TooLarge
        ? new HttpBody({
          method: request.method,
          url: request.url,
          detail: `the response body is larger than ${maxBodyBytes} bytes`
        })
        : toFailure(request, error)
    )
  )

const attempt = (
  client: HttpClient.HttpClient,
  request: Request,
  timeout: Duration.Duration
): Effect.Effect<HttpResponse, HttpFailure> => {
  const base = request.method === "PUT" ? HttpClientRequest.put(request.url) : HttpClientRequest.get(request.url)
  const prepared = request.headers === undefined ? base : HttpClientRequest.setHeaders(base, request.headers)
  return client.execute(prepared).pipe(
    Effect.mapError((error) => toFailure(request, error)),
    Effect.flatMap((response) =>
      Effect.map(readBody(request, response.stream), (body) => ({ response, body }))
    ),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new HttpTimeout({ method: request.method, url: request.url, timeout })
    }),
    Effect.flatMap(({ body, response }): Effect.Effect<HttpResponse, HttpStatus> =>
      response.status >= 200 && response.status < 300
        ? Effect.succeed({ status: response.status, headers: { ...response.headers }, body })
        : Effect.fail(
          new HttpStatus({
            method: request.method,
            url: request.url,
            status: response.status,
            body: bounded(body, 1024)
          })
        )
    )
  )
}

/**
 * Sends `request` with `policy`: each attempt under the timeout; failures that `retryOn` accepts
 * are retried, at most `attempts` times in all, after an exponential wait jittered to 80-120 %
 * (through the `Random` service). A timed-out attempt is retried at once: the wait has been
 * spent already (botocore does not wait either), and a chain must not take longer than
 * `attempts` timeouts to give up on an endpoint that never answers.
 */
export const send = (
  client: HttpClient.HttpClient,
  request: Request,
  policy: Policy
): Effect.Effect<HttpResponse, HttpFailure> => {
  const attempts = Math.max(1, Math.floor(policy.attempts))
  const loop = (attempted: number): Effect.Effect<HttpResponse, HttpFailure> =>
    Effect.catchAll(attempt(client, request, policy.timeout), (failure) => {
      if (attempted >= attempts || !policy.retryOn(failure)) return Effect.fail(failure)
      if (failure._tag === "HttpTimeout") return loop(attempted + 1)
      return Random.next.pipe(
        Effect.flatMap((random) =>
          Effect.sleep(Duration.times(policy.backoff, 2 ** (attempted - 1) * (0.8 + 0.4 * random)))
        ),
        Effect.zipRight(loop(attempted + 1))
      )
    })
  return loop(1).pipe(
    Effect.locallyWith(Headers.currentRedactedNames, (names) => [...names, ...redactedHeaderNames])
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
      if (typeof value === "string" && value !== "") return bounded(value, 200)
    }
    return undefined
  }
  const code = pick("Code", "code")
  const message = pick("Message", "message")
  if (code === undefined && message === undefined) return undefined
  return [code, message].filter((part) => part !== undefined).join(": ")
}
