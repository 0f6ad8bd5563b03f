/**
 * Calls to AWS STS (`AssumeRole`, `AssumeRoleWithWebIdentity`) for the `assume-role` and
 * `assume-role-with-web-identity` sources, and `GetCallerIdentity` for `explain --verify`
 * (`verify.ts`), which goes where the session's assume-role calls would go.
 *
 * Where the call goes is decided the way botocore 1.43 decides it for the session's profile:
 * the region (explicit > `AWS_REGION` > `AWS_DEFAULT_REGION` > profile `region`; never the
 * instance metadata service, which botocore does not ask for a client's region either), then an
 * endpoint configured by the user (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, the profile's
 * `[services]` section `sts = endpoint_url = ...`, the profile's `endpoint_url`, unless
 * `ignore_configured_endpoint_urls`), else the regional endpoint `https://sts.{region}.amazonaws.com`
 * (the default in botocore 1.43) or, with `sts_regional_endpoints = legacy` and one of the sixteen
 * legacy regions (or the region `aws-global`), the global `https://sts.amazonaws.com` signed for
 * us-east-1. FIPS and dual-stack variants follow `use_fips_endpoint` / `use_dualstack_endpoint`.
 *
 * Without a region botocore resolves STS's partition endpoint: the global `https://sts.amazonaws.com`
 * signed for us-east-1, whatever `sts_regional_endpoints` says; so do we. A configured endpoint
 * without a region is used as it is and signed for us-east-1 (botocore sends the unsigned
 * `AssumeRoleWithWebIdentity` there too, but refuses to sign `AssumeRole` with `NoRegionError`).
 * FIPS or dual-stack without a region is a configuration error (botocore would build
 * `sts-fips.aws-global.amazonaws.com` / `sts.aws-global.api.aws`, hosts its endpoint data does
 * not list). The successful credentials' provenance ends with where the call went
 * (`describeRoute`), so `explain` shows it.
 *
 * `@aws-sdk/client-sts` is loaded with a dynamic `import()` on the first call. The client is given
 * everything it would otherwise read from `process.env` or `~/.aws` (region, endpoint, retry
 * settings, credentials as a provider function), so it never consults the SDK's own chain or
 * files, and `ConfigProvider`-based tests stay isolated. Each attempt has a timeout; throttling,
 * 5xx, timeouts and transport errors are retried a bounded number of times with jittered
 * exponential backoff (`sdkCall.ts` calls, `callFailure.ts` classifies). SDK exceptions become `CredentialsError`s that
 * name the STS error code, the region and the endpoint, with a hint for the common codes; nothing
 * the server wrote beyond the code is kept (no message text, no body, no cause).
 */
import type { STSClientConfig } from "@aws-sdk/client-sts"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { AwsSession } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import { CredentialsError, type Reason as CredentialsErrorReason } from "../CredentialsError.js"
import * as ConfiguredEndpoint from "./configuredEndpoint.js"
import * as Region from "./region.js"
import * as Setting from "./setting.js"
import * as SdkCall from "./sdkCall.js"
import * as CallFailure from "./callFailure.js"
import { displayUrl, scrub } from "./scrub.js"
import { headerUnsafe } from "./http.js"
import { decodeValue } from "./untrusted.js"

/**
 * Tunables of STS calls.
 */
export interface CallOptions {
  /** How long one attempt may take. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How many attempts at most (throttling, 5xx, timeouts, unreachable). Default 3. */
  readonly maxAttempts?: number | undefined
}

export const defaults: { readonly timeout: Duration.Duration; readonly maxAttempts: number } = {
  timeout: Duration.seconds(10),
  maxAttempts: 3
}

/** The region STS falls back to without one: the global endpoint's signing region. */
export const globalSigningRegion = "us-east-1"

/** The global STS endpoint (botocore's partition endpoint `aws-global`). */
export const globalEndpoint = "https://sts.amazonaws.com"

/** Where STS calls go and how they are made. */
export interface Settings {
  /** The configured region (what the user set), or `undefined` when none is. */
  readonly region: string | undefined
  /** Where the region came from: `explicit`, `env AWS_REGION`, `profile dev`; `undefined` without one. */
  readonly regionSource: string | undefined
  /** The region requests are signed for (us-east-1 for the global endpoint, and without a region). */
  readonly signingRegion: string
  readonly endpoint: string
  /**
   * Where the endpoint came from: `AWS_ENDPOINT_URL_STS`, ... for a configured one; else what
   * kind it is: `regional endpoint`, `global endpoint, sts_regional_endpoints = legacy`, ...
   */
  readonly endpointSource: string
  /** Whether the endpoint was configured by the user (`endpointSource` names the setting). */
  readonly endpointConfigured: boolean
  readonly timeout: Duration.Duration
  readonly maxAttempts: number
}

/** The regions botocore sends to `sts.amazonaws.com` under `sts_regional_endpoints = legacy`. */
export const legacyGlobalRegions: ReadonlySet<string> = new Set([
  "ap-northeast-1",
  "ap-south-1",
  "ap-southeast-1",
  "ap-southeast-2",
  "aws-global",
  "ca-central-1",
  "eu-central-1",
  "eu-north-1",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "sa-east-1",
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2"
])

/** The DNS suffix of a region's partition (and of its dual-stack variant), as the STS rules have them. */
const dnsSuffix = (region: string, dualstack: boolean): string => {
  if (region.startsWith("cn-")) return dualstack ? "api.amazonwebservices.com.cn" : "amazonaws.com.cn"
  if (region.startsWith("us-isob-")) return "sc2s.sgov.gov"
  if (region.startsWith("us-iso-")) return "c2s.ic.gov"
  if (region.startsWith("eu-isoe-")) return "cloud.adc-e.uk"
  if (region.startsWith("us-isof-")) return "csp.hci.ic.gov"
  if (region.startsWith("eusc-")) return "amazonaws.eu"
  return dualstack ? "api.aws" : "amazonaws.com"
}

/**
 * The endpoint botocore resolves for STS in `region` without a configured URL: regional (the
 * default), or the global endpoint signed for us-east-1 in legacy mode for the legacy regions,
 * and for the pseudo-region `aws-global` in either mode.
 */
export const defaultEndpoint = (options: {
  readonly region: string
  readonly regionalEndpoints: "legacy" | "regional"
  readonly fips: boolean
  readonly dualstack: boolean
}): { readonly url: string; readonly signingRegion: string; readonly source: string } => {
  const { dualstack, fips, region } = options
  if (!fips && !dualstack) {
    if (region === "aws-global") {
      return { url: globalEndpoint, signingRegion: globalSigningRegion, source: "global endpoint" }
    }
    if (options.regionalEndpoints === "legacy" && legacyGlobalRegions.has(region)) {
      return {
        url: globalEndpoint,
        signingRegion: globalSigningRegion,
        source: "global endpoint, sts_regional_endpoints = legacy"
      }
    }
  }
  const name = region === "aws-global" ? globalSigningRegion : region
  const variant = [fips ? "FIPS" : undefined, dualstack ? "dual-stack" : undefined].filter((v) => v !== undefined)
  // GovCloud's regional STS endpoints are FIPS endpoints already.
  const host = fips && !(name.startsWith("us-gov-") && !dualstack) ? "sts-fips" : "sts"
  return {
    url: `https://${host}.${name}.${dnsSuffix(name, dualstack)}`,
    signingRegion: name,
    source: variant.length === 0 ? "regional endpoint" : `regional ${variant.join(" ")} endpoint`
  }
}

/** botocore's `validate_region_name`: the region becomes part of a host name. */
const validRegionName = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/

/** STS as endpoint configuration names it (`AWS_ENDPOINT_URL_STS`, `sts =` in `[services]`). */
const stsService: ConfiguredEndpoint.ServiceId = { env: "STS", key: "sts" }

/**
 * Works out where STS calls go for the session's active profile (see the module comment).
 */
export const settings = (
  source: Credentials.Source,
  options: CallOptions = {}
): Effect.Effect<Settings, CredentialsError, AwsSession> =>
  Effect.gen(function*() {
    const session = yield* AwsSession
    const { profile, profileName } = session
    const region = yield* Region.configured(session)
    if (Option.isSome(region) && !validRegionName.test(region.value.name)) {
      return yield* new CredentialsError({
        source,
        reason: "InvalidConfiguration",
        profile: profileName,
        detail: `the region from ${region.value.source}, "${
          scrub(region.value.name, { max: 64 })
        }", is not a valid region name (letters, digits and hyphens, at most 63)`
      })
    }
    const mode = yield* Setting.read(profile, profileName, { variable: "AWS_STS_REGIONAL_ENDPOINTS", key: "sts_regional_endpoints" })
    if (Option.isSome(mode) && mode.value.value !== "legacy" && mode.value.value !== "regional") {
      return yield* new CredentialsError({
        source,
        reason: "InvalidConfiguration",
        profile: profileName,
        detail: `sts_regional_endpoints from ${mode.value.from} must be "legacy" or "regional", not "${
          scrub(mode.value.value, { max: 100 })
        }"`
      })
    }
    const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? defaults.maxAttempts))
    const timeout = options.timeout === undefined ? defaults.timeout : Duration.decode(options.timeout)
    const configured = yield* ConfiguredEndpoint.resolve({ session, profileName, service: stsService, source })
    const common = {
      region: Option.getOrUndefined(Option.map(region, (r) => r.name)),
      regionSource: Option.getOrUndefined(Option.map(region, (r) => r.source)),
      timeout,
      maxAttempts
    }
    if (Option.isSome(configured.endpoint)) {
      return {
        ...common,
        signingRegion: Option.isSome(region) ? region.value.name : globalSigningRegion,
        endpoint: configured.endpoint.value.url.replace(/\/+$/, ""),
        endpointSource: configured.endpoint.value.from,
        endpointConfigured: true
      }
    }
    if (Option.isNone(region)) {
      if (configured.useFipsEndpoint || configured.useDualstackEndpoint) {
        const what = configured.useFipsEndpoint ? "FIPS" : "dual-stack"
        return yield* new CredentialsError({
          source,
          reason: "InvalidConfiguration",
          profile: profileName,
          detail: `a ${what} STS endpoint needs a region and none is set: set AWS_REGION or AWS_DEFAULT_REGION, ` +
            `or region in profile ${profileName} (without a region botocore would call a ${what} variant of ` +
            `the pseudo-region aws-global, which its endpoint data does not list)`
        })
      }
      return {
        ...common,
        signingRegion: globalSigningRegion,
        endpoint: globalEndpoint,
        endpointSource: "global endpoint",
        endpointConfigured: false
      }
    }
    const endpoint = defaultEndpoint({
      region: region.value.name,
      regionalEndpoints: Option.isSome(mode) && mode.value.value === "legacy" ? "legacy" : "regional",
      fips: configured.useFipsEndpoint,
      dualstack: configured.useDualstackEndpoint
    })
    return {
      ...common,
      signingRegion: endpoint.signingRegion,
      endpoint: endpoint.url,
      endpointSource: endpoint.source,
      endpointConfigured: false
    }
  })

/** The region part of a description: `no region configured`, `region eu-west-1` (when not signed for it). */
const regionNote = (self: Settings): string | undefined =>
  self.region === undefined
    ? "no region configured"
    : self.region === self.signingRegion
    ? undefined
    : `region ${self.region}`

/**
 * For messages: `STS in us-east-1 (https://sts.us-east-1.amazonaws.com)`, with what kind of
 * endpoint (or where a configured one came from) when it is not the regional one, and the
 * configured region when the calls are signed for another, or that there is none.
 */
export const describeSettings = (self: Settings): string => {
  const notes = [
    self.endpointSource === "regional endpoint" ? undefined : self.endpointSource,
    regionNote(self)
  ].filter((note) => note !== undefined)
  return `STS in ${self.signingRegion} (${[self.endpoint, ...notes].join(", ")})`
}

/** `explicit` -> `set explicitly`, `env AWS_REGION` -> `from AWS_REGION`, `profile dev` -> `from profile dev`. */
const regionOrigin = (source: string): string =>
  source === "explicit" ? "set explicitly" : `from ${source.replace(/^env /, "")}`

/**
 * For provenance: where the calls that made the credentials went, e.g. `via STS us-east-1
 * (global endpoint, no region configured)` or `via STS eu-west-1 (regional endpoint, region from
 * AWS_REGION)`.
 */
export const describeRoute = (self: Settings): string => {
  const endpoint = self.endpointConfigured ? `${self.endpoint} from ${self.endpointSource}` : self.endpointSource
  const region = self.region === undefined || self.regionSource === undefined
    ? "no region configured"
    : `${self.region === self.signingRegion ? "region" : `region ${self.region}`} ${regionOrigin(self.regionSource)}`
  return `via STS ${self.signingRegion} (${endpoint}, ${region})`
}

/**
 * The HTTP handler STS clients send with. `undefined` (the default) is the SDK's own Node
 * handler with the call's timeouts. Tests provide one that records where a request was addressed
 * and hands it to a loopback fake, to check the choice of a real AWS endpoint without contacting it.
 */
export class RequestHandler extends Context.Reference<RequestHandler>()(
  "effect-aws-credentials/internal/sts/RequestHandler",
  { defaultValue: (): STSClientConfig["requestHandler"] | undefined => undefined }
) {}

// ---------------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------------

/** Temporary credentials as STS returns them. */
export interface StsCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: Redacted.Redacted<string>
  readonly sessionToken: Redacted.Redacted<string>
  readonly expiration: DateTime.Utc
  /** From the assumed role's ARN, as botocore does. */
  readonly accountId: string | undefined
  readonly assumedRoleArn: string | undefined
}

export interface AssumeRoleRequest {
  readonly roleArn: string
  readonly roleSessionName: string
  readonly externalId?: string | undefined
  readonly durationSeconds?: number | undefined
  readonly serialNumber?: string | undefined
  readonly tokenCode?: Redacted.Redacted<string> | undefined
  /** A session policy (JSON) and session tags, for roles assumed in code. */
  readonly policy?: string | undefined
  readonly tags?: ReadonlyArray<{ readonly Key: string; readonly Value: string }> | undefined
}

export interface WebIdentityRequest {
  readonly roleArn: string
  readonly roleSessionName: string
  readonly webIdentityToken: Redacted.Redacted<string>
}

/**
 * What is worth another attempt: what every SDK call retries (timeouts, transport errors, 5xx,
 * the common throttling names), plus STS's own throttling code (`Throttling`, HTTP 400) and
 * `IDPCommunicationError`, which botocore's retry table lists for STS.
 */
export const isRetryable = (failure: CallFailure.CallFailure): boolean =>
  CallFailure.isTransient(failure) ||
  (failure._tag === "Service" && (failure.name === "Throttling" || failure.name === "IDPCommunicationError"))

/**
 * `sdkCall`'s classification, with STS's own error code (`InvalidIdentityToken`) rather than the
 * SDK's class name for it (`InvalidIdentityTokenException`): the code is what botocore, the AWS
 * CLI and the STS documentation show.
 */
const classify = (error: unknown): CallFailure.CallFailure => {
  const failure = CallFailure.classify(error)
  const code = typeof error === "object" && error !== null ? (error as { readonly Code?: unknown }).Code : undefined
  return failure._tag === "Service" && typeof code === "string" && /^[A-Za-z][\w.]{0,99}$/.test(code)
    ? { ...failure, name: code }
    : failure
}

/** What the user can do about the common STS error codes. */
const hints: Record<string, string> = {
  AccessDenied:
    "the source credentials may not assume this role: check the role's trust policy and the caller's sts:AssumeRole permission",
  ExpiredToken: "the source credentials have expired: refresh them (or the session that produced them)",
  ExpiredTokenException: "the web identity token has expired: its issuer must write a fresh one to the token file",
  InvalidClientTokenId: "the source access key is not valid (deleted, or from another partition)",
  SignatureDoesNotMatch: "the source secret access key does not match its access key id",
  IncompleteSignature: "the request signature is incomplete (are the source credentials complete?)",
  InvalidIdentityToken: "the web identity token was rejected (issuer not trusted by the role, or malformed)",
  IDPRejectedClaim: "the token does not satisfy the role's trust policy conditions",
  IDPCommunicationError: "STS could not reach the identity provider to check the token",
  RegionDisabledException:
    "STS is not activated in this region for the account: activate it in IAM (Account settings) or use another region",
  MalformedPolicyDocument: "the session policy is not valid",
  PackedPolicyTooLarge: "the session policy or tags are too large",
  ValidationError: "a parameter was rejected (role_arn, role_session_name, external_id, duration_seconds or mfa_serial)"
}

/** The `CredentialsError` reasons of a failed call. */
export type FailureReason = Extract<
  CredentialsErrorReason,
  "ServiceError" | "Unreachable" | "Timeout" | "InvalidConfiguration" | "InvalidResponse"
>

/** What a failed STS call is told with: the error's reason and its sentence. */
export interface FailureContext {
  readonly settings: Settings
  readonly operation: Operation
  readonly attempts: number
}

/**
 * A failed call in words, e.g. `STS in us-east-1 (...) answered AccessDenied (HTTP 403) to
 * AssumeRole: <hint>`, with the reason a `CredentialsError` files it under. `verify.ts` shows the
 * same sentences for a check that could not be made.
 */
export const describeFailure = (
  failure: CallFailure.CallFailure,
  context: FailureContext
): { readonly reason: FailureReason; readonly detail: string } => {
  const where = describeSettings(context.settings)
  const after = context.attempts > 1 ? ` (after ${context.attempts} attempts)` : ""
  switch (failure._tag) {
    case "Service": {
      const status = failure.status === undefined || failure.name === `HTTP ${failure.status}`
        ? ""
        : ` (HTTP ${failure.status})`
      const hint = hints[failure.name]
      return {
        reason: "ServiceError",
        detail: `${where} answered ${failure.name}${status} to ${context.operation}${after}${
          hint === undefined ? "" : `: ${hint}`
        }`
      }
    }
    case "Network":
      return {
        reason: "Unreachable",
        detail: `${where} could not be reached for ${context.operation} (${failure.code})${after}`
      }
    case "Timeout":
      return {
        reason: "Timeout",
        detail: `${where} did not answer ${context.operation} within ${Duration.format(context.settings.timeout)}${after}`
      }
    case "Local":
      return {
        reason: "InvalidConfiguration",
        detail: `${where}: ${context.operation}: ${
          SdkCall.describe(failure, { timeout: context.settings.timeout, attempts: 1 })
        }`
      }
    case "Malformed":
      return {
        reason: "InvalidResponse",
        detail: `${where} answered ${context.operation} with something that is not an STS response${
          failure.status === undefined ? "" : ` (HTTP ${failure.status})`
        }`
      }
  }
}

type StsModule = typeof import("@aws-sdk/client-sts")

const loadSdk: Effect.Effect<StsModule> = Effect.promise(() => import("@aws-sdk/client-sts"))

/** What the SDK hands back from an STS call (its types; the values come from the server). */
interface Answer {
  readonly Credentials?: unknown
  readonly AssumedRoleUser?: unknown
}

const accountOf = (arn: string | undefined): string | undefined => {
  if (arn === undefined) return undefined
  const parts = arn.split(":")
  const account = parts[4]
  return parts[0] === "arn" && account !== undefined && /^\d{12}$/.test(account) ? account : undefined
}

const NonEmpty = Schema.String.pipe(Schema.minLength(1))

/** The parts of an STS answer we read, checked like every other answer from outside. */
const StsAnswer = Schema.Struct({
  Credentials: Schema.Struct({
    AccessKeyId: NonEmpty,
    SecretAccessKey: NonEmpty,
    SessionToken: NonEmpty,
    Expiration: Schema.ValidDateFromSelf
  }),
  AssumedRoleUser: Schema.optional(Schema.NullOr(Schema.Struct({ Arn: Schema.optional(Schema.NullOr(Schema.String)) })))
})

const decodeStsAnswer = decodeValue(StsAnswer)

/**
 * The credentials in an STS answer, or a value-free description of what is wrong with it.
 * @internal
 */
export const decodeAnswer = (answer: unknown): Either.Either<StsCredentials, string> =>
  decodeStsAnswer(answer).pipe(
    Either.map(({ AssumedRoleUser, Credentials: credentials }) => {
      const arn = AssumedRoleUser?.Arn ?? undefined
      return {
        accessKeyId: credentials.AccessKeyId,
        secretAccessKey: Redacted.make(credentials.SecretAccessKey),
        sessionToken: Redacted.make(credentials.SessionToken),
        expiration: DateTime.unsafeMake(credentials.Expiration),
        accountId: accountOf(arn),
        assumedRoleArn: arn
      }
    })
  )

/** The STS operations we make. */
export type Operation = "AssumeRole" | "AssumeRoleWithWebIdentity" | "GetCallerIdentity"

/** A call that failed: what failed, after how many attempts. */
export interface Failed {
  readonly failure: CallFailure.CallFailure
  readonly attempts: number
}

/**
 * Why the credentials cannot be sent at all, e.g. `access key id holds a character an HTTP header
 * cannot carry (...)`: the access key id and the session token travel in headers, and such a
 * character is a mistake in the credentials, said before any request is made.
 */
const unsendable = (identity: ReturnType<typeof Credentials.toAwsIdentity>): string | undefined => {
  for (const [name, value] of [["access key id", identity.accessKeyId], ["session token", identity.sessionToken]]) {
    const unsafe = value === undefined ? undefined : headerUnsafe(value)
    if (unsafe !== undefined) return `${name} holds a character an HTTP header cannot carry (${unsafe}); it is not shown`
  }
  return undefined
}

/**
 * One STS operation with a fresh client, through the one call policy: `send` builds the command
 * from the loaded SDK. Attempts are timed out and retried here, not by the SDK (its `maxAttempts`
 * is 1). The caller has checked the credentials with `unsendable`.
 */
const send = <A>(options: {
  readonly settings: Settings
  readonly operation: Operation
  /** `undefined` for unsigned calls. */
  readonly credentials: Credentials.Credentials | undefined
  readonly send: (
    sdk: StsModule,
    client: InstanceType<StsModule["STSClient"]>,
    signal: AbortSignal
  ) => Promise<A>
}): Effect.Effect<A, Failed> =>
  Effect.gen(function*() {
    const { settings } = options
    const identity = options.credentials === undefined ? undefined : Credentials.toAwsIdentity(options.credentials)
    const sdk = yield* loadSdk
    const timeoutMs = Duration.toMillis(settings.timeout)
    const handler = yield* RequestHandler
    let attempts = 0
    const client = yield* SdkCall.scopedClient(() =>
      new sdk.STSClient({
        region: settings.signingRegion,
        endpoint: settings.endpoint,
        // Our credentials, never the SDK's own chain; unsigned calls never ask for any.
        credentials: identity === undefined
          ? () => Promise.reject(new Error("this STS call is unsigned"))
          : () => Promise.resolve(identity),
        maxAttempts: 1,
        retryMode: "standard",
        defaultsMode: "standard",
        useFipsEndpoint: false,
        useDualstackEndpoint: false,
        authSchemePreference: [],
        sigv4aSigningRegionSet: [],
        userAgentAppId: () => Promise.resolve(undefined),
        requestHandler: handler ?? { requestTimeout: timeoutMs, connectionTimeout: timeoutMs }
      })
    )
    return yield* SdkCall.call(
      (signal) => options.send(sdk, client, signal),
      { timeout: settings.timeout, attempts: settings.maxAttempts, backoff: Duration.millis(200) },
      {
        classify,
        isRetryable,
        onAttempt: (made) => {
          attempts = made
        }
      }
    ).pipe(Effect.mapError((failure): Failed => ({ failure, attempts })))
  }).pipe(
    Effect.scoped,
    Effect.withSpan(`Sts.${options.operation}`, {
      attributes: { region: options.settings.signingRegion, endpoint: displayUrl(options.settings.endpoint) }
    })
  )

/** An operation that returns credentials, its failures as `CredentialsError`s of `source`. */
const call = (options: {
  readonly source: Credentials.Source
  readonly profile: string | undefined
  readonly settings: Settings
  readonly operation: "AssumeRole" | "AssumeRoleWithWebIdentity"
  /** `undefined` for unsigned calls. */
  readonly credentials: Credentials.Credentials | undefined
  readonly send: (
    sdk: StsModule,
    client: InstanceType<StsModule["STSClient"]>,
    signal: AbortSignal
  ) => Promise<Answer>
}): Effect.Effect<StsCredentials, CredentialsError> =>
  Effect.gen(function*() {
    const { settings } = options
    const base = { source: options.source, profile: options.profile }
    const problem = options.credentials === undefined
      ? undefined
      : unsendable(Credentials.toAwsIdentity(options.credentials))
    if (problem !== undefined) {
      return yield* new CredentialsError({
        ...base,
        reason: "InvalidConfiguration",
        detail: `${describeSettings(settings)}: ${options.operation}: the source credentials' ${problem}`
      })
    }
    const answer = yield* send(options).pipe(
      Effect.mapError(({ attempts, failure }) =>
        new CredentialsError({ ...base, ...describeFailure(failure, { settings, operation: options.operation, attempts }) })
      )
    )
    const decoded = decodeAnswer(answer)
    if (Either.isLeft(decoded)) {
      return yield* new CredentialsError({
        ...base,
        reason: "InvalidResponse",
        detail: `${describeSettings(settings)} answered ${options.operation} without complete Credentials (${decoded.left})`
      })
    }
    return decoded.right
  })

/** Who the credentials belong to, as `GetCallerIdentity` tells. */
export interface CallerIdentity {
  readonly account: string
  readonly arn: string
  readonly userId: string
}

const decodeCallerIdentity = decodeValue(Schema.Struct({ Account: NonEmpty, Arn: NonEmpty, UserId: NonEmpty }))

/**
 * `GetCallerIdentity`, signed with `credentials`: the one STS call that needs no permission, so
 * it answers whether the credentials themselves are good. An answer without the three fields is
 * `Malformed` (what the server sent is not kept).
 */
export const getCallerIdentity = (options: {
  readonly settings: Settings
  readonly credentials: Credentials.Credentials
}): Effect.Effect<CallerIdentity, Failed> => {
  const problem = unsendable(Credentials.toAwsIdentity(options.credentials))
  if (problem !== undefined) {
    return Effect.fail({ failure: { _tag: "Local", name: "InvalidHeaderValue", message: `the ${problem}` }, attempts: 0 })
  }
  return send({
    settings: options.settings,
    operation: "GetCallerIdentity",
    credentials: options.credentials,
    send: (sdk, client, signal) => client.send(new sdk.GetCallerIdentityCommand({}), { abortSignal: signal })
  }).pipe(
    Effect.flatMap((answer) =>
      Either.match(decodeCallerIdentity(answer), {
        onLeft: () => Effect.fail<Failed>({ failure: { _tag: "Malformed", status: answer.$metadata.httpStatusCode }, attempts: 1 }),
        onRight: (identity) => Effect.succeed({ account: identity.Account, arn: identity.Arn, userId: identity.UserId })
      })
    )
  )
}
/**
 * `AssumeRole`, signed with `credentials`.
 */
export const assumeRole = (options: {
  readonly source: Credentials.Source
  readonly profile?: string | undefined
  readonly settings: Settings
  readonly credentials: Credentials.Credentials
  readonly request: AssumeRoleRequest
}): Effect.Effect<StsCredentials, CredentialsError> => {
  const { request } = options
  return call({
    source: options.source,
    profile: options.profile,
    settings: options.settings,
    operation: "AssumeRole",
    credentials: options.credentials,
    send: (sdk, client, signal) =>
      client.send(
        new sdk.AssumeRoleCommand({
          RoleArn: request.roleArn,
          RoleSessionName: request.roleSessionName,
          ...(request.externalId === undefined ? {} : { ExternalId: request.externalId }),
          ...(request.durationSeconds === undefined ? {} : { DurationSeconds: request.durationSeconds }),
          ...(request.serialNumber === undefined ? {} : { SerialNumber: request.serialNumber }),
          ...(request.tokenCode === undefined ? {} : { TokenCode: Redacted.value(request.tokenCode) }),
          ...(request.policy === undefined ? {} : { Policy: request.policy }),
          ...(request.tags === undefined || request.tags.length === 0 ? {} : { Tags: [...request.tags] })
        }),
        { abortSignal: signal }
      )
  })
}

/**
 * `AssumeRoleWithWebIdentity`, unsigned: the token is the credential.
 */
export const assumeRoleWithWebIdentity = (options: {
  readonly source: Credentials.Source
  readonly profile?: string | undefined
  readonly settings: Settings
  readonly request: WebIdentityRequest
}): Effect.Effect<StsCredentials, CredentialsError> => {
  const { request } = options
  return call({
    source: options.source,
    profile: options.profile,
    settings: options.settings,
    operation: "AssumeRoleWithWebIdentity",
    credentials: undefined,
    send: (sdk, client, signal) =>
      client.send(
        new sdk.AssumeRoleWithWebIdentityCommand({
          RoleArn: request.roleArn,
          RoleSessionName: request.roleSessionName,
          WebIdentityToken: Redacted.value(request.webIdentityToken)
        }),
        { abortSignal: signal }
      )
  })
}

/** botocore's default role session name: `botocore-session-<unix seconds>`. */
export const defaultSessionName: Effect.Effect<string> = Effect.map(
  Clock.currentTimeMillis,
  (now) => `botocore-session-${Math.floor(now / 1000)}`
)

/**
 * Checks a role session name the way botocore's parameter validation does (2 to 64 characters)
 * and STS's pattern (`[\w+=,.@-]*`), so that a bad one is reported with where it was written
 * instead of as an STS ValidationError.
 */
export const checkSessionName = (name: string): Option.Option<string> => {
  if (name.length < 2 || name.length > 64) {
    return Option.some(`must be 2 to 64 characters long (it has ${name.length})`)
  }
  if (!/^[\w+=,.@-]+$/.test(name)) {
    return Option.some("may only contain letters, digits and + = , . @ _ -")
  }
  return Option.none()
}

/** Turns an STS answer into `Credentials`. */
export const toCredentials = (
  answer: StsCredentials,
  source: Credentials.Source,
  provenance: string
): Credentials.Credentials =>
  Credentials.make({
    accessKeyId: answer.accessKeyId,
    secretAccessKey: answer.secretAccessKey,
    sessionToken: answer.sessionToken,
    expiration: answer.expiration,
    accountId: answer.accountId,
    arn: answer.assumedRoleArn,
    source,
    provenance
  })
