/**
 * The `AwsCredentials` service: what every credential source provides and what every AWS
 * client consumes.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as Credentials from "./Credentials.js"
import { CredentialsError, type Attempt } from "./CredentialsError.js"
import { markIdentity } from "./internal/signingCredentials.js"

/**
 * The service's shape.
 *
 * - `get` serves the current credentials, refreshing them first when they are about to expire.
 * - `invalidate` makes the next `get` fetch afresh (for a service that answered `ExpiredToken`).
 * - `attempts` says how the layer came to provide these credentials: for a chain, every link
 *   it tried; for a single source, that source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly get: Effect.Effect<Credentials.Credentials, CredentialsError>
  readonly invalidate: Effect.Effect<void>
  readonly attempts: ReadonlyArray<Attempt>
  /**
   * Optional, for callers outside Effect (`toAwsSdkProvider`): the credentials `get` would serve
   * at `nowMillis` (epoch milliseconds from the caller's `Clock`) at once and with nothing else
   * to do, else `undefined`, and the caller runs `get`. Running `get` costs a fiber per call from
   * a `Promise`; this answers the common case, fresh cached credentials, without one. It must
   * never answer what `get` would not: when a refresh is due, awaited or failing, or the
   * credentials are invalidated or expired, it answers `undefined`. Every source layer of this
   * package and `layerStatic` provide it; a service without it (a test double,
   * `layerFromAwsSdkProvider`) is always asked through `get`.
   *
   * @since 0.1.0
   */
  readonly unsafeCurrent?: ((nowMillis: number) => Credentials.Credentials | undefined) | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class AwsCredentials extends Context.Tag("effect-aws-credentials/AwsCredentials")<
  AwsCredentials,
  Service
>() {}

/**
 * Builds the service from its parts; `attempts` defaults to none, and without `unsafeCurrent`
 * every caller goes through `get` (see `Service`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly get: Effect.Effect<Credentials.Credentials, CredentialsError>
  readonly invalidate?: Effect.Effect<void> | undefined
  readonly attempts?: ReadonlyArray<Attempt> | undefined
  readonly unsafeCurrent?: ((nowMillis: number) => Credentials.Credentials | undefined) | undefined
}): Service => ({
  get: options.get,
  invalidate: options.invalidate ?? Effect.void,
  attempts: options.attempts ?? [],
  ...(options.unsafeCurrent === undefined ? {} : { unsafeCurrent: options.unsafeCurrent })
})

/**
 * Options for `layerStatic`: explicit keys.
 *
 * @since 0.1.0
 * @category models
 */
export interface StaticOptions {
  readonly accessKeyId: string
  readonly secretAccessKey: string | import("effect/Redacted").Redacted<string>
  readonly sessionToken?: string | import("effect/Redacted").Redacted<string> | undefined
  readonly expiration?: Date | import("effect/DateTime").DateTime | undefined
  readonly accountId?: string | undefined
  readonly provenance?: string | undefined
}

/**
 * Explicit keys, labelled `explicit`. This is also how tests provide credentials:
 * `Effect.provide(AwsCredentials.layerStatic({ accessKeyId: "AKIDTEST", secretAccessKey: "x" }))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStatic = (options: StaticOptions): Layer.Layer<AwsCredentials> => {
  const credentials = Credentials.make({
    ...options,
    source: "explicit",
    provenance: options.provenance ?? "explicit keys given in code"
  })
  return Layer.succeed(
    AwsCredentials,
    make({
      get: Effect.succeed(credentials),
      unsafeCurrent: () => credentials,
      attempts: [{ source: "explicit", outcome: "resolved", reason: credentials.provenance, durationMs: 0 }]
    })
  )
}

/**
 * The credential identity shape the AWS SDK for JavaScript (v3) accepts. Declared here so that
 * this package does not depend on `@smithy/types`.
 *
 * @since 0.1.0
 * @category interop
 */
export interface AwsSdkIdentity {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
  readonly expiration?: Date
  readonly accountId?: string
}

/**
 * An AWS SDK v3 credential provider (`credentials:` option of every client) backed by the
 * `AwsCredentials` service. The SDK calls it whenever it needs to sign; it asks again before
 * `expiration`, and `get` refreshes as needed, so the client never has to be rebuilt.
 *
 * A call that the service's `unsafeCurrent` answers (fresh cached credentials, read with the
 * `Clock` of the effect that built the provider) returns without starting a fiber; every other
 * call, and every call to a service without `unsafeCurrent`, runs `get` in that runtime.
 *
 * @since 0.1.0
 * @category interop
 */
export const toAwsSdkProvider: Effect.Effect<
  (options?: { readonly forceRefresh?: boolean }) => Promise<AwsSdkIdentity>,
  never,
  AwsCredentials
> = Effect.gen(function*() {
  const service = yield* AwsCredentials
  const runtime = yield* Effect.runtime<never>()
  const runFork = Runtime.runFork(runtime)
  // The clock `get` would read in that runtime, so that a `TestClock` drives both paths.
  const clock = yield* Effect.clock
  const unsafeCurrent = service.unsafeCurrent
  // The SDK asks on every request; convert each set of credentials once.
  let last: readonly [Credentials.Credentials, AwsSdkIdentity] | undefined
  const identityOf = (credentials: Credentials.Credentials): AwsSdkIdentity => {
    // Marked with the credentials it was made from, so that an error about a request it signed
    // can say which credentials those were (source and provenance, no secret).
    if (last === undefined || last[0] !== credentials) {
      last = [credentials, markIdentity(Credentials.toAwsIdentity(credentials), credentials)]
    }
    return last[1]
  }
  const cached = Effect.map(service.get, identityOf)
  const forced = Effect.zipRight(service.invalidate, cached)
  return (options) => {
    if (unsafeCurrent !== undefined && options?.forceRefresh !== true) {
      const current = unsafeCurrent(clock.unsafeCurrentTimeMillis())
      if (current !== undefined) return Promise.resolve(identityOf(current))
    }
    // A cached `get` completes synchronously: answer from the fiber's exit without waiting for
    // another tick; only a refresh goes through the promise of the fiber.
    const fiber = runFork(options?.forceRefresh === true ? forced : cached, { immediate: true })
    const exit = fiber.unsafePoll()
    if (exit !== null) {
      return Exit.isSuccess(exit) ? Promise.resolve(exit.value) : Promise.reject(Cause.squash(exit.cause))
    }
    return new Promise((resolve, reject) => {
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) resolve(exit.value)
        else reject(Cause.squash(exit.cause))
      })
    })
  }
})

/**
 * Wraps an AWS SDK v3 credential provider (for instance one from `@aws-sdk/credential-providers`)
 * as an `AwsCredentials` layer, so SDK-only sources can join a chain. Its failures become
 * `CredentialsError`s with reason `ServiceError`; the SDK's own caching decides refreshes.
 *
 * @since 0.1.0
 * @category interop
 */
export const layerFromAwsSdkProvider = (
  provider: () => Promise<AwsSdkIdentity>,
  options?: { readonly source?: Credentials.Source | undefined; readonly description?: string | undefined }
): Layer.Layer<AwsCredentials, CredentialsError> => {
  const source = options?.source ?? "explicit"
  const provenance = options?.description ?? "AWS SDK credential provider"
  const get = Effect.tryPromise({
    try: () => provider(),
    catch: (cause) =>
      new CredentialsError({
        source,
        reason: "ServiceError",
        detail: `${provenance} failed: ${cause instanceof Error ? cause.name : "unknown error"}`,
        cause
      })
  }).pipe(
    Effect.map((identity) => Credentials.make({ ...identity, source, provenance }))
  )
  return Layer.effect(
    AwsCredentials,
    Effect.map(get, (first) =>
      make({
        get,
        attempts: [{ source, outcome: "resolved", reason: first.provenance, durationMs: 0 }]
      }))
  )
}
