/**
 * The default chain for programs that do not use Effect: `fromChain()` is a drop-in
 * `credentials:` provider for any AWS SDK for JavaScript (v3) client, as `fromNodeProviderChain()`
 * is, with botocore's order and semantics, this package's refresh engine and its errors.
 *
 * ```ts
 * import { S3Client } from "@aws-sdk/client-s3"
 * import { fromChain } from "effect-aws-credentials/sdk"
 *
 * const credentials = fromChain({ profile: "dev" })
 * const s3 = new S3Client({ region: "eu-west-1", credentials })
 * // ... when the program is done with it (tests, servers shutting down):
 * await credentials.dispose()
 * ```
 *
 * The chain lives in a runtime of its own (`ManagedRuntime`), built on the first call and shared
 * by every client the provider is given to; `dispose()` closes it (the background refresh stops).
 * A failure rejects with a `CredentialsProviderError` whose message lists every link tried and why
 * and whose `cause` is the typed error (`NoCredentialsFound` or `CredentialsError`); a failed first
 * resolution is not kept, so the next call tries the chain again (after `aws sso login`, say).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type AwsCredentials, type AwsSdkIdentity, toAwsSdkProvider } from "./AwsCredentials.js"
import type * as AwsSession from "./AwsSession.js"
import * as CredentialChain from "./CredentialChain.js"
import { type Attempt, CredentialsError, NoCredentialsFound } from "./CredentialsError.js"

/**
 * What `fromChain` takes: the session's options (`profile`, `region`, the files) and the default
 * chain's tunables, as `CredentialChain.layerNode` does.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends AwsSession.Options, CredentialChain.DefaultOptions {}

/**
 * How a `fromChain` provider fails. Named and shaped as the SDK's own
 * `CredentialsProviderError` (`@smithy/property-provider`): `tryNextLink` is `true` when nothing
 * was configured (`NoCredentialsFound`), so an SDK `chain(fromChain(), ...)` moves on, and `false`
 * when a source is configured but broken (`CredentialsError`), so it stops there, as our chain does.
 *
 * @since 0.1.0
 * @category errors
 */
export class CredentialsProviderError extends Error {
  override readonly name = "CredentialsProviderError"
  /** Whether an SDK provider chain should try its next provider. */
  readonly tryNextLink: boolean
  /** The typed error: `NoCredentialsFound` or `CredentialsError`, with the attempts. */
  override readonly cause: CredentialsError | NoCredentialsFound

  constructor(cause: CredentialsError | NoCredentialsFound) {
    super(describe(cause), { cause })
    this.cause = cause
    this.tryNextLink = cause._tag === "NoCredentialsFound"
  }
}

/**
 * The provider `fromChain` returns: what every SDK client's `credentials:` accepts
 * (`AwsCredentialIdentityProvider`), plus `dispose`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Provider {
  (options?: { readonly forceRefresh?: boolean }): Promise<AwsSdkIdentity>
  /**
   * Closes the chain's runtime: the background refresh stops and every resource the sources hold
   * is released. Later calls reject. Idempotent.
   */
  readonly dispose: () => Promise<void>
}

const outcomeWords: Record<Attempt["outcome"], string> = {
  unavailable: "not configured",
  failed: "failed",
  resolved: "resolved"
}

/** The error's message, then every link tried, in order, and why (when it has the attempts). */
const describe = (error: CredentialsError | NoCredentialsFound): string => {
  if (error._tag === "NoCredentialsFound") return error.message
  const attempts = error.attempts ?? []
  if (attempts.length === 0) return `Could not load credentials: ${error.message}`
  return [
    `Could not load credentials: ${error.message}`,
    "Tried, in order:",
    ...attempts.map((attempt) => `  - ${attempt.source}: ${outcomeWords[attempt.outcome]}: ${attempt.reason}`)
  ].join("\n")
}

/** Our errors become `CredentialsProviderError`s; anything else (a defect, an interruption) is passed on. */
const toRejection = (error: unknown): unknown =>
  error instanceof CredentialsError || error instanceof NoCredentialsFound ? new CredentialsProviderError(error) : error

/**
 * A `Clock` whose timers do not keep Node running: the background refresh sleeps until the next
 * refresh moment (an hour, for most temporary credentials), and a program that never calls
 * `dispose` must still exit when it is done, as one using `fromNodeProviderChain` does. While a
 * caller waits for credentials, the provider holds the process open itself (see `fromChain`).
 */
const unrefClock = (): Clock.Clock => {
  const base = Clock.make()
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis(),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos(),
    currentTimeMillis: base.currentTimeMillis,
    currentTimeNanos: base.currentTimeNanos,
    sleep: (duration) =>
      Effect.async<void>((resume) => {
        const millis = Duration.toMillis(duration)
        // Beyond what a Node timer holds, Effect's own clock never wakes either.
        if (millis > 2 ** 31 - 1) return
        const timer = setTimeout(() => resume(Effect.void), millis)
        timer.unref()
        return Effect.sync(() => clearTimeout(timer))
      })
  }
}

type SdkProvider = (options?: { readonly forceRefresh?: boolean }) => Promise<AwsSdkIdentity>

interface Started {
  readonly runtime: ManagedRuntime.ManagedRuntime<AwsCredentials | AwsSession.AwsSession, CredentialChain.ChainError>
  readonly provider: Promise<SdkProvider>
}

/**
 * The default chain (`CredentialChain.layerNode(options)`: env, assume-role, web identity, SSO,
 * the shared files, login, process, boto, container, instance metadata, in botocore's order) as an
 * AWS SDK v3 credential provider: `new S3Client({ credentials: fromChain() })`.
 *
 * The chain is built on the first call and serves every later one; credentials are refreshed in
 * the background before they expire, and a call that finds fresh cached ones answers without
 * starting a fiber. Errors: see `CredentialsProviderError`. Call `dispose()` when done with it;
 * until then, its timers never keep the process alive on their own.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromChain = (options: Options = {}): Provider => {
  let started: Started | undefined
  let ready: SdkProvider | undefined
  let disposed = false
  // One handle that keeps the process alive while a caller waits (a refresh's backoff is a timer
  // the clock does not hold the process for): ref'd while calls are pending, unref'd otherwise.
  const hold = setInterval(() => {}, 2 ** 31 - 1)
  hold.unref()
  let pending = 0
  const done = () => {
    if (--pending === 0) hold.unref()
  }
  const track = (promise: Promise<AwsSdkIdentity>): Promise<AwsSdkIdentity> => {
    if (pending++ === 0) hold.ref()
    const settled = promise.catch((error: unknown) => Promise.reject(toRejection(error)))
    settled.then(done, done)
    return settled
  }

  const start = (): Started => {
    const runtime = ManagedRuntime.make(
      Layer.provide(CredentialChain.layerNode(options), Layer.setClock(unrefClock()))
    )
    const provider = runtime.runPromiseExit(toAwsSdkProvider).then((exit) => {
      if (Exit.isSuccess(exit)) {
        if (!disposed) ready = exit.value
        return exit.value
      }
      // A failed build is not kept: the next call tries the chain again.
      if (started?.runtime === runtime) started = undefined
      return runtime.dispose().then(() => Promise.reject(Cause.squash(exit.cause)))
    })
    return { runtime, provider }
  }

  const provider = (callOptions?: { readonly forceRefresh?: boolean }): Promise<AwsSdkIdentity> => {
    if (disposed) return Promise.reject(new Error("effect-aws-credentials/sdk: fromChain() was disposed"))
    if (ready !== undefined) return track(ready(callOptions))
    started ??= start()
    return track(started.provider.then((sdkProvider) => sdkProvider(callOptions)))
  }

  const dispose = async (): Promise<void> => {
    if (disposed) return
    disposed = true
    clearInterval(hold)
    const current = started
    started = undefined
    ready = undefined
    if (current !== undefined) await current.runtime.dispose()
  }

  return Object.assign(provider, { dispose })
}
