/**
 * One call to an AWS SDK client, the way every remote source makes it: an explicit timeout per
 * attempt (the request is aborted when it passes) and the one call policy's capped, jittered
 * retries for what is worth retrying (timeouts, transport errors, throttling, 5xx), and the SDK's
 * exception turned into a small value that carries no response body, no request and no token.
 *
 * The SDK clients are built with one attempt of their own (`maxAttempts: 1`) and with
 * `ignoreConfiguredEndpointUrls`, so that retries, endpoints and flags come from here and from
 * our `Config`, never from `process.env` or the SDK's own reading of `~/.aws`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Policy from "./callPolicy.js"
import { networkCodes } from "./http.js"
import { scrub } from "./scrub.js"
import type { EndpointSettings } from "./configuredEndpoint.js"

/** Why a call failed, without anything the server said beyond its error name and code. */
export type CallFailure =
  | { readonly _tag: "Timeout" }
  | { readonly _tag: "Network"; readonly code: string }
  | {
    readonly _tag: "Service"
    /** The exception name (`UnauthorizedException`, ...). */
    readonly name: string
    readonly status: number | undefined
    /** The OAuth-style `error` member some services return (`TOKEN_EXPIRED`, `invalid_grant`). */
    readonly errorCode: string | undefined
  }
  | { readonly _tag: "Malformed"; readonly status: number | undefined }
  /**
   * The SDK would not make the request (an `EndpointError` for settings that do not combine, a
   * value a header cannot carry): nothing was sent, and another attempt would fail the same way.
   */
  | { readonly _tag: "Local"; readonly name: string; readonly message: string }

export interface CallPolicy {
  /** The longest one attempt may take. */
  readonly timeout: Duration.Duration
  /** Attempts in all (1 = no retry; at most `CallPolicy.maxAttempts`). */
  readonly attempts: number
}

const throttling = new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "TooManyRequestsError",
  "SlowDownException",
  "RequestLimitExceeded"
])

const record = (error: unknown): Record<string, unknown> =>
  typeof error === "object" && error !== null ? error as Record<string, unknown> : {}

/** Classifies what `client.send` threw. Reads names and codes only. */
export const classify = (error: unknown): CallFailure => {
  const e = record(error)
  const metadata = record(e.$metadata)
  const status = typeof metadata.httpStatusCode === "number" ? metadata.httpStatusCode : undefined
  const name = typeof e.name === "string" ? e.name : "Error"
  if (name === "AbortError") return { _tag: "Timeout" }
  if (typeof e.$fault === "string") {
    return {
      _tag: "Service",
      name,
      status,
      errorCode: typeof e.error === "string" ? e.error : undefined
    }
  }
  if (status !== undefined) {
    // The SDK could not read what the server sent (a SyntaxError on an HTML error page or on
    // truncated JSON). A 5xx or a 429 is the server's trouble and worth a retry; anything else is
    // garbage.
    return status >= 500 || status === 429
      ? { _tag: "Service", name: `HTTP ${status}`, status, errorCode: undefined }
      : { _tag: "Malformed", status }
  }
  const code = typeof e.code === "string" ? e.code : undefined
  // System errors (`ECONNRESET`, `EAI_AGAIN`, ...) and undici's are the network's; Node's own
  // `ERR_*` codes (`ERR_INVALID_CHAR`: a header value a token made impossible) are ours, and
  // deterministic.
  if (
    code !== undefined && !code.startsWith("ERR_") &&
    (code in networkCodes || /^E[A-Z_]+$/.test(code) || code.startsWith("UND_ERR"))
  ) {
    return { _tag: "Network", code }
  }
  if (name === "TimeoutError" || name === "RequestTimeout") return { _tag: "Timeout" }
  return { _tag: "Local", name, message: scrub(typeof e.message === "string" ? e.message : "", { max: 200 }) }
}

export const isTransient = (failure: CallFailure): boolean => {
  switch (failure._tag) {
    case "Timeout":
    case "Network":
      return true
    case "Malformed":
    case "Local":
      return false
    case "Service":
      return throttling.has(failure.name) || failure.status === 429 ||
        (failure.status !== undefined && failure.status >= 500)
  }
}

/** Words for a failure, e.g. `UnauthorizedException (HTTP 401)`. */
export const describe = (failure: CallFailure, policy: CallPolicy): string => {
  const after = policy.attempts > 1 && isTransient(failure) ? ` (after ${policy.attempts} attempts)` : ""
  switch (failure._tag) {
    case "Timeout":
      return `no answer within ${Duration.format(policy.timeout)}${after}`
    case "Network":
      return `connection failed: ${failure.code}${after}`
    case "Malformed":
      return `the response could not be read${failure.status === undefined ? "" : ` (HTTP ${failure.status})`}`
    case "Local":
      return `the request could not be made (${failure.name}${failure.message === "" ? "" : `: ${failure.message}`})`
    case "Service":
      return `${failure.name}${failure.errorCode === undefined ? "" : ` ${failure.errorCode}`}${
        failure.status === undefined || failure.name === `HTTP ${failure.status}` ? "" : ` (HTTP ${failure.status})`
      }${after}`
  }
}

/**
 * Runs `send` (which must honour the abort signal) with the timeout and attempts of `policy`,
 * through the one call policy (`callPolicy.ts`).
 */
export const call = <A>(
  send: (signal: AbortSignal) => Promise<A>,
  policy: CallPolicy
): Effect.Effect<A, CallFailure> =>
  Policy.run(
    Effect.tryPromise({ try: send, catch: classify }),
    Policy.make({ timeout: policy.timeout, attempts: policy.attempts }),
    {
      isRetryable: isTransient,
      isTimeout: (failure) => failure._tag === "Timeout",
      timedOut: (): CallFailure => ({ _tag: "Timeout" })
    }
  )

/** The configuration every SDK client we build gets. */
export const clientConfig = (region: string, settings: EndpointSettings): {
  readonly region: string
  readonly endpoint?: string
  readonly maxAttempts: number
  readonly ignoreConfiguredEndpointUrls: boolean
  readonly useFipsEndpoint: boolean
  readonly useDualstackEndpoint: boolean
} => ({
  region,
  ...(settings.endpoint._tag === "Some" ? { endpoint: settings.endpoint.value.url } : {}),
  maxAttempts: 1,
  ignoreConfiguredEndpointUrls: true,
  useFipsEndpoint: settings.useFipsEndpoint,
  useDualstackEndpoint: settings.useDualstackEndpoint
})

/** An SDK client for the scope, destroyed (its sockets closed) when the scope closes. */
export const scopedClient = <C extends { destroy(): void }>(make: () => C): Effect.Effect<C, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(make), (client) => Effect.sync(() => client.destroy()))
