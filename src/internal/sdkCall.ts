/**
 * One call to an AWS SDK client, the way every remote source makes it: an explicit timeout per
 * attempt (the request is aborted when it passes) and the one call policy's capped, jittered
 * retries for what is worth retrying (timeouts, transport errors, throttling, 5xx), and the SDK's
 * exception turned into a small value that carries no response body, no request and no token
 * (`callFailure.ts` classifies).
 *
 * The SDK clients are built with one attempt of their own (`maxAttempts: 1`) and with
 * `ignoreConfiguredEndpointUrls`, so that retries, endpoints and flags come from here and from
 * our `Config`, never from `process.env` or the SDK's own reading of `~/.aws`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Policy from "./callPolicy.js"
import { type CallFailure, classify, isTransient } from "./callFailure.js"
import type { EndpointSettings } from "./configuredEndpoint.js"

export interface CallPolicy {
  /** The longest one attempt may take. */
  readonly timeout: Duration.Duration
  /** Attempts in all (1 = no retry; at most `CallPolicy.maxAttempts`). */
  readonly attempts: number
  /** The first wait between attempts, doubled and jittered. Default 100 ms. */
  readonly backoff?: Duration.DurationInput | undefined
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
 * through the one call policy (`callPolicy.ts`). A service with error codes of its own passes
 * `classify` (STS's `Code`) and `isRetryable` (its own throttling code); `onAttempt` is told the
 * number of each attempt, for messages that say how many were made.
 */
export const call = <A>(
  send: (signal: AbortSignal) => Promise<A>,
  policy: CallPolicy,
  options: {
    readonly classify?: ((error: unknown) => CallFailure) | undefined
    readonly isRetryable?: ((failure: CallFailure) => boolean) | undefined
    readonly onAttempt?: ((attempt: number) => void) | undefined
  } = {}
): Effect.Effect<A, CallFailure> =>
  Policy.run(
    Effect.tryPromise({ try: send, catch: options.classify ?? classify }),
    Policy.make({ timeout: policy.timeout, attempts: policy.attempts, backoff: policy.backoff }),
    {
      isRetryable: options.isRetryable ?? isTransient,
      isTimeout: (failure) => failure._tag === "Timeout",
      timedOut: (): CallFailure => ({ _tag: "Timeout" }),
      onAttempt: options.onAttempt
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
