/**
 * What every AWS SDK v3 client we build for a caller shares (`AwsClient.make`, the S3 client):
 * the client settings botocore would use for the service (its configured endpoint, FIPS and
 * dual-stack, the retry mode and attempts, the CA bundle), the SDK credentials provider over
 * `AwsCredentials`, the configuration that keeps the SDK from reading `process.env` or `~/.aws`
 * itself, and the call path around one request: the call policy's retries, then, after
 * `ExpiredToken` / `InvalidToken`, `AwsCredentials.invalidate` and one more try.
 *
 * Each caller keeps its own error type (`AwsServiceError`, `S3Error`): this module takes the
 * predicates and constructors it needs, and fails its own settings with `SettingsProblem`, which
 * the caller turns into its `InvalidConfiguration`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as https from "node:https"
import { toAwsSdkProvider } from "../AwsCredentials.js"
import type { Service as Session } from "../AwsSession.js"
import { CredentialsError } from "../CredentialsError.js"
import * as ProfileFile from "../ProfileFile.js"
import * as CallPolicy from "./callPolicy.js"
import * as ConfiguredEndpoint from "./configuredEndpoint.js"
import * as Files from "./files.js"
import { fileSystemLayer } from "./nodePlatform.js"
import { displayUrl, scrub as scrubText } from "./scrub.js"
import * as Setting from "./setting.js"
import * as SigningCredentials from "./signingCredentials.js"

/** A setting the client cannot be built with; the caller names it in its own error. */
export class SettingsProblem extends Data.TaggedError("SettingsProblem")<{ readonly detail: string }> {}

/** Without an `AwsSession` in the context: no profile, so only the environment configures a client. */
export const noSession: Session = {
  profileName: "default",
  profileSource: "default",
  explicitCredentials: Option.none(),
  explicitRegion: Option.none(),
  home: Option.none(),
  configFile: { path: undefined, exists: false },
  credentialsFile: { path: undefined, exists: false },
  profiles: ProfileFile.empty,
  profile: Option.none()
}

/**
 * The configuration names of an SDK client's `serviceId` (`DynamoDB`, `SSO OIDC`), as botocore
 * derives them: `AWS_ENDPOINT_URL_DYNAMODB` / `dynamodb` in `[services]`, `AWS_ENDPOINT_URL_SSO_OIDC`
 * / `sso_oidc`.
 */
export const serviceIdOf = (sdkServiceId: string): ConfiguredEndpoint.ServiceId => {
  const snake = sdkServiceId.trim().replace(/[\s-]+/g, "_")
  return { env: snake.toUpperCase(), key: snake.toLowerCase() }
}

/** botocore's retry modes; each sets the attempts when `max_attempts` does not. */
export type RetryMode = "legacy" | "standard" | "adaptive"

/** botocore's default attempts (the first one included) per mode. */
export const defaultAttempts: Readonly<Record<RetryMode, number>> = { legacy: 5, standard: 3, adaptive: 3 }

export interface RetrySettings {
  readonly mode: RetryMode
  /** Attempts in all, the first one included, at most `CallPolicy.maxAttempts`. */
  readonly maxAttempts: number
  /** Where the attempts came from: `AWS_MAX_ATTEMPTS`, `max_attempts in profile dev (...)`, `retry_mode legacy`. */
  readonly from: string
  /** Neither the option nor the session set the attempts or the mode: botocore's default applies. */
  readonly defaulted: boolean
}

export interface CaBundle {
  readonly path: string
  /** `AWS_CA_BUNDLE`, or `ca_bundle in profile dev (...)`. */
  readonly from: string
  readonly pem: string
}

/** Everything a client is built with besides the region and the credentials. */
export interface Settings {
  readonly endpoint: Option.Option<ConfiguredEndpoint.ConfiguredEndpoint>
  readonly useFipsEndpoint: boolean
  readonly useDualstackEndpoint: boolean
  readonly retry: RetrySettings
  readonly caBundle: Option.Option<CaBundle>
}

/** An endpoint given in code: an http(s) URL, else a `SettingsProblem`. */
export const checkEndpoint = (endpoint: string, what: string): Effect.Effect<string, SettingsProblem> => {
  const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined
  return url !== undefined && (url.protocol === "http:" || url.protocol === "https:")
    ? Effect.succeed(endpoint)
    : Effect.fail(new SettingsProblem({ detail: `${what} is not an http(s) URL: "${displayUrl(endpoint)}"` }))
}

const retrySettings = (
  session: Session,
  maxAttemptsOption: number | undefined
): Effect.Effect<RetrySettings, SettingsProblem> =>
  Effect.gen(function*() {
    const modeSetting = yield* Setting.read(session.profile, session.profileName, {
      variable: "AWS_RETRY_MODE",
      key: "retry_mode"
    })
    const modeText = Option.map(modeSetting, (s) => s.value.trim().toLowerCase())
    if (Option.isSome(modeText) && !Object.hasOwn(defaultAttempts, modeText.value)) {
      return yield* new SettingsProblem({
        detail: `${Option.getOrThrow(modeSetting).from} is "${scrubText(modeText.value, { max: 40 })}"; ` +
          `botocore accepts legacy, standard or adaptive`
      })
    }
    // botocore's default mode is `legacy`.
    const mode = Option.getOrElse(modeText, () => "legacy") as RetryMode
    if (maxAttemptsOption !== undefined) {
      return { mode, maxAttempts: clampAttempts(maxAttemptsOption), from: "the maxAttempts option", defaulted: false }
    }
    const attempts = yield* Setting.read(session.profile, session.profileName, {
      variable: "AWS_MAX_ATTEMPTS",
      key: "max_attempts"
    })
    if (Option.isNone(attempts)) {
      return {
        mode,
        maxAttempts: defaultAttempts[mode],
        from: Option.match(modeSetting, { onNone: () => "botocore's default", onSome: (s) => s.from }),
        defaulted: Option.isNone(modeSetting)
      }
    }
    const parsed = /^\s*\d+\s*$/.test(attempts.value.value) ? Number(attempts.value.value) : Number.NaN
    if (!Number.isSafeInteger(parsed) || parsed < 1) {
      return yield* new SettingsProblem({
        detail: `${attempts.value.from} is "${scrubText(attempts.value.value, { max: 40 })}", not a whole number of attempts from 1`
      })
    }
    return { mode, maxAttempts: clampAttempts(parsed), from: attempts.value.from, defaulted: false }
  })

const clampAttempts = (attempts: number): number =>
  Math.min(CallPolicy.maxAttempts, Math.max(1, Number.isFinite(attempts) ? Math.floor(attempts) : 1))

/** The CA bundle botocore would verify TLS with, read through the bounded reader. */
const caBundle = (session: Session): Effect.Effect<Option.Option<CaBundle>, SettingsProblem> =>
  Effect.gen(function*() {
    const setting = yield* Setting.read(session.profile, session.profileName, { variable: "AWS_CA_BUNDLE", key: "ca_bundle" })
    if (Option.isNone(setting)) return Option.none()
    const path = setting.value.value
    // The program's file system when it provides one (a test's), else Node's.
    const read = Files.readOptionalFile(path, { what: "CA bundle", kind: "config" })
    const fs = yield* Effect.serviceOption(FileSystem.FileSystem)
    const text = yield* (Option.isSome(fs) ? Effect.provideService(read, FileSystem.FileSystem, fs.value) : Effect.provide(read, fileSystemLayer)).pipe(
      Effect.mapError((error) => new SettingsProblem({ detail: `${setting.value.from}: ${error.message}` }))
    )
    if (Option.isNone(text)) {
      return yield* new SettingsProblem({ detail: `${setting.value.from} names ${path}, which does not exist` })
    }
    if (!text.value.includes("-----BEGIN CERTIFICATE-----")) {
      return yield* new SettingsProblem({ detail: `${setting.value.from} names ${path}, which holds no PEM certificate` })
    }
    return Option.some({ path, from: setting.value.from, pem: text.value })
  })

/**
 * The settings for `service`: the endpoint (the option, else botocore's configured endpoint),
 * FIPS and dual-stack, the retry mode and attempts (the option, else `AWS_MAX_ATTEMPTS` /
 * `max_attempts`, else the mode's default), and the CA bundle.
 */
export const resolveSettings = (options: {
  readonly session: Session
  readonly service: ConfiguredEndpoint.ServiceId
  readonly endpoint?: string | undefined
  readonly maxAttempts?: number | undefined
}): Effect.Effect<Settings, SettingsProblem> =>
  Effect.gen(function*() {
    const { session } = options
    const configured = yield* ConfiguredEndpoint.resolve({
      session,
      profileName: session.profileName,
      service: options.service,
      source: "explicit"
    }).pipe(Effect.mapError((error) => new SettingsProblem({ detail: error.detail })))
    const endpoint = options.endpoint !== undefined && options.endpoint !== ""
      ? Option.some({ url: yield* checkEndpoint(options.endpoint, "the endpoint option"), from: "the endpoint option" })
      : configured.endpoint
    return {
      endpoint,
      useFipsEndpoint: configured.useFipsEndpoint,
      useDualstackEndpoint: configured.useDualstackEndpoint,
      retry: yield* retrySettings(session, options.maxAttempts),
      caBundle: yield* caBundle(session)
    }
  })

/**
 * The SDK's credentials: `AwsCredentials` on every request, marked as caching by itself (so the
 * SDK calls it every time), remembering the last secrets it handed out for the scrubber.
 */
export const sdkCredentials = Effect.map(toAwsSdkProvider, (provider) => {
  const recentSecrets: Array<string> = []
  const credentials = Object.assign(
    (providerOptions?: { readonly forceRefresh?: boolean }) =>
      provider(providerOptions).then((identity) => {
        if (!recentSecrets.includes(identity.secretAccessKey)) {
          recentSecrets.unshift(identity.secretAccessKey, ...(identity.sessionToken === undefined ? [] : [identity.sessionToken]))
          recentSecrets.length = Math.min(recentSecrets.length, 6)
        }
        return identity
      }),
    { memoized: true }
  )
  return { credentials, scrub: (text: string): string => scrubText(text, { max: 300, known: recentSecrets }) }
})

/** The SDK's own console messages would bypass Effect's logging; every failure reaches the caller as an error. */
export const silentLogger = { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }

/** Limits of one attempt: `timeout` to connect and get the headers, `idleTimeout` of silence. */
export interface Limits {
  readonly timeout: Duration.Duration
  readonly idleTimeout: Duration.Duration
}

/**
 * The configuration every client gets: one attempt of the SDK's own (retries are ours), nothing
 * read from the process or `~/.aws` by the SDK, the handler's timeouts, and the CA bundle as the
 * HTTPS agent's only trusted roots (botocore's `verify=<bundle>` replaces the default store too).
 */
export const baseConfig = (
  region: string,
  settings: Settings,
  credentials: unknown,
  limits: Limits
): Record<string, unknown> => ({
  region,
  ...(Option.isSome(settings.endpoint) ? { endpoint: settings.endpoint.value.url } : {}),
  credentials,
  maxAttempts: 1,
  retryMode: "standard",
  defaultsMode: "standard",
  useFipsEndpoint: settings.useFipsEndpoint,
  useDualstackEndpoint: settings.useDualstackEndpoint,
  ignoreConfiguredEndpointUrls: true,
  authSchemePreference: [],
  sigv4aSigningRegionSet: [],
  userAgentAppId: () => Promise.resolve(undefined),
  logger: silentLogger,
  requestHandler: {
    connectionTimeout: Duration.toMillis(limits.timeout),
    throwOnRequestTimeout: true,
    socketTimeout: Duration.toMillis(limits.idleTimeout),
    ...(Option.isSome(settings.caBundle)
      ? { httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 50, ca: settings.caBundle.value.pem }) }
      : {})
  }
})

/** An SDK client as far as we touch it. */
export interface SdkClientLike {
  readonly middlewareStack: { add(middleware: never, options: Record<string, unknown>): void }
  destroy(): void
}

/** Errors say which credentials signed the request they are about (`signingCredentials.ts`). */
export const recordSigningCredentials = (client: SdkClientLike): void =>
  client.middlewareStack.add(SigningCredentials.recordingMiddleware as never, {
    step: "initialize",
    name: "effectAwsCredentialsSignedWith",
    override: true
  })

/** Where a failed request's error keeps the code read off an answer its deserializer could not parse. */
const answerCode: unique symbol = Symbol.for("effect-aws-credentials/SdkClient/answerCode")
const contextKey = "effectAwsCredentialsAnswerCode"

/** An error answer's body, read only this far for its code. */
const maxErrorBody = 64 * 1024

const codeOf = (text: string): string | undefined => {
  const xml = /<Code>\s*([A-Za-z0-9_.:-]{1,100})\s*<\/Code>/.exec(text)
  return xml?.[1]
}

/**
 * Some servers answer a JSON service's refusal in XML (moto's signature check does, and so do
 * proxies in front of AWS): its deserializer cannot read it and throws a `SyntaxError` with the
 * status only. These two middlewares keep the error's code: the inner one (step `deserialize`,
 * under the deserializer) reads an error answer's body, at most 64 KiB, for an XML `<Code>` and
 * puts the bytes back for the deserializer; the outer one (step `initialize`) records that code
 * on the error. Only the code is kept, and only when it reads as a code.
 */
export const recordAnswerCodes = (client: SdkClientLike): void => {
  client.middlewareStack.add(
    ((next: (args: unknown) => Promise<{ response?: unknown }>, context: Record<string, unknown>) => async (args: unknown) => {
      const out = await next(args)
      const response = out.response as { statusCode?: number; body?: unknown } | undefined
      const body = response?.body as AsyncIterable<Uint8Array> | undefined
      if (response !== undefined && (response.statusCode ?? 0) >= 400 && body !== undefined && typeof body === "object" &&
        Symbol.asyncIterator in body) {
        const chunks: Array<Uint8Array> = []
        let total = 0
        for await (const chunk of body) {
          chunks.push(chunk)
          total += chunk.length
          if (total > maxErrorBody) break
        }
        const bytes = Buffer.concat(chunks)
        response.body = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        const code = codeOf(bytes.subarray(0, maxErrorBody).toString("utf8"))
        if (code !== undefined) context[contextKey] = code
      }
      return out
    }) as never,
    { step: "deserialize", priority: "low", name: "effectAwsCredentialsAnswerBody", override: true }
  )
  client.middlewareStack.add(
    ((next: (args: unknown) => Promise<unknown>, context: Record<string, unknown>) => async (args: unknown) => {
      try {
        return await next(args)
      } catch (error) {
        const code = context[contextKey]
        if (typeof code === "string" && typeof error === "object" && error !== null && typeof (error as { $fault?: unknown }).$fault !== "string") {
          Object.defineProperty(error, answerCode, { value: code, enumerable: false, configurable: true })
        }
        throw error
      }
    }) as never,
    { step: "initialize", name: "effectAwsCredentialsAnswerCode", override: true }
  )
}

/** The code `recordAnswerCodes` read off an answer the SDK could not parse. */
export const answerCodeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null ? (error as { [answerCode]?: string })[answerCode] : undefined

/** Codes that mean "these credentials' session is over": invalidate and retry once. */
export const tokenCodes: ReadonlySet<string> = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidToken",
  "TokenRefreshRequired"
])

/**
 * The call path around one request: `attempt` under the call policy's retries (when there is
 * more than one attempt and the request may be sent again), then, when it failed with a token
 * error, `invalidate` and the whole once more (a request that cannot be replayed fails as it
 * is, after the invalidation, so the next one signs with fresh credentials).
 */
export const makeRetrying = <E extends { readonly _tag: string }>(options: {
  readonly attempts: number
  readonly backoff?: Duration.DurationInput | undefined
  readonly maxBackoff?: Duration.DurationInput | undefined
  readonly isRetryable: (error: E | CredentialsError) => boolean
  readonly isTokenError: (error: E | CredentialsError) => error is E
  readonly timedOut: () => E
  readonly invalidate: Effect.Effect<void>
  readonly describe: (error: E) => string
}) => {
  type Failure = E | CredentialsError
  const policy = CallPolicy.make({
    // The attempt keeps its own timeout (the request handler's), so the policy sets none.
    timeout: Duration.infinity,
    attempts: options.attempts,
    backoff: options.backoff ?? Duration.millis(100),
    maxBackoff: options.maxBackoff ?? Duration.seconds(2),
    deadline: Duration.infinity
  })
  const retrying = <A>(attempt: Effect.Effect<A, Failure>): Effect.Effect<A, Failure> =>
    policy.attempts <= 1 ? attempt : CallPolicy.run(attempt, policy, {
      isRetryable: options.isRetryable,
      timedOut: options.timedOut
    })
  return <A>(attempt: Effect.Effect<A, Failure>, replayable: boolean): Effect.Effect<A, Failure> => {
    const retried = replayable ? retrying(attempt) : attempt
    return Effect.catchIf(retried, options.isTokenError, (error) =>
      Effect.zipRight(
        Effect.logDebug(`${options.describe(error)}, invalidating the credentials`),
        Effect.zipRight(options.invalidate, replayable ? retried : Effect.fail(error))
      ))
  }
}

/**
 * `send` as an Effect: the abort signal interrupts it; the credentials provider's rejection
 * reaches us as the SDK got it, `AwsCredentials.get`'s own error, handed on as it is.
 */
export const attempt = <A, E>(
  send: (abortSignal: AbortSignal) => Promise<A>,
  mapError: (error: unknown) => E
): Effect.Effect<A, E | CredentialsError> =>
  Effect.tryPromise({
    try: send,
    catch: (error): E | CredentialsError => error instanceof CredentialsError ? error : mapError(error)
  })
