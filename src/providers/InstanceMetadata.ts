/**
 * Credentials of the IAM role attached to an EC2 instance, from the instance metadata service
 * (botocore's `iam-role`): IMDSv2 with a session token, falling back to IMDSv1 the way botocore
 * does unless v1 is disabled, and statically stable (an outage of the metadata service during a
 * refresh keeps the last credentials alive for a few more minutes instead of failing).
 *
 * Settings, each from the environment first, then the active profile:
 *
 * | variable | profile key | default |
 * |---|---|---|
 * | `AWS_EC2_METADATA_DISABLED` | | `false` |
 * | `AWS_EC2_METADATA_SERVICE_ENDPOINT` | `ec2_metadata_service_endpoint` | from the mode |
 * | `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE` | `ec2_metadata_service_endpoint_mode` | `IPv4`: `http://169.254.169.254`; `IPv6`: `http://[fd00:ec2::254]` |
 * | `AWS_EC2_METADATA_V1_DISABLED` | `ec2_metadata_v1_disabled` | `false` |
 * | `AWS_METADATA_SERVICE_TIMEOUT` | `metadata_service_timeout` | 1 second (at most 5 minutes) |
 * | `AWS_METADATA_SERVICE_NUM_ATTEMPTS` | `metadata_service_num_attempts` | 1 (at most 10) |
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type { AwsCredentials } from "../AwsCredentials.js"
import { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as Env from "../internal/env.js"
import * as CallPolicy from "../internal/callPolicy.js"
import * as Client from "../internal/imdsClient.js"
import { sourceLayer } from "../internal/provider.js"
import * as ProfileFile from "../ProfileFile.js"
import { displayUrl, scrub } from "../internal/scrub.js"

const source = "iam-role" satisfies Credentials.Source

/**
 * Which address family the default endpoint uses.
 *
 * @since 0.1.0
 * @category models
 */
export type EndpointMode = "IPv4" | "IPv6"

/**
 * The default endpoints of each mode.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultEndpoints: Readonly<Record<EndpointMode, string>> = {
  IPv4: "http://169.254.169.254",
  IPv6: "http://[fd00:ec2::254]"
}

/**
 * Tunables of the `iam-role` source. Each one given here wins over the environment and the
 * profile.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The service's base URL (as `AWS_EC2_METADATA_SERVICE_ENDPOINT`). */
  readonly endpoint?: string | undefined
  /** The default endpoint's address family (as `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`). */
  readonly endpointMode?: string | undefined
  /** Per request (as `AWS_METADATA_SERVICE_TIMEOUT`). Default 1 second. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Attempts per request (as `AWS_METADATA_SERVICE_NUM_ATTEMPTS`). Default 1. */
  readonly attempts?: number | undefined
  /** The HTTP client to use instead of Node's `fetch` (for a custom agent, or a test double). */
  readonly httpClient?: HttpClient.HttpClient | undefined
}

/**
 * The defaults of `Options` and the fixed protocol values.
 *
 * @since 0.1.0
 * @category models
 */
export const defaults: {
  readonly timeout: Duration.Duration
  readonly attempts: number
  /** The IMDSv2 token's requested lifetime (`x-aws-ec2-metadata-token-ttl-seconds`). */
  readonly tokenTtl: Duration.Duration
  /** A cached token is fetched again this long before its lifetime ends. */
  readonly tokenRefreshBuffer: Duration.Duration
  /**
   * The wait between attempts: none, as botocore retries the metadata service at once (it is
   * local; a wait would only lengthen the chain on a machine without one).
   */
  readonly backoff: Duration.Duration
  /** Static stability: how far beyond "now" the last credentials are extended during an outage. */
  readonly staleExtension: { readonly min: Duration.Duration; readonly max: Duration.Duration }
} = {
  timeout: Duration.seconds(1),
  attempts: 1,
  tokenTtl: Duration.seconds(21600),
  tokenRefreshBuffer: Duration.minutes(2),
  backoff: Duration.zero,
  staleExtension: { min: Duration.minutes(5), max: Duration.minutes(10) }
}

/**
 * The settings the source runs with, and where each came from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** Base URL without a trailing slash, e.g. `http://169.254.169.254`. */
  readonly endpoint: string
  /** Where the endpoint came from, e.g. `AWS_EC2_METADATA_SERVICE_ENDPOINT` or `endpoint mode IPv4 (default)`. */
  readonly endpointSource: string
  readonly v1Disabled: boolean
  /** What disabled IMDSv1, if something did. */
  readonly v1DisabledBy: string | undefined
  readonly timeout: Duration.Duration
  readonly attempts: number
}

interface Setting {
  readonly value: string
  readonly from: string
  readonly path?: string | undefined
  readonly line?: number | undefined
}

/** A setting from the environment first, then the active profile; empty counts as unset. */
const setting = (variable: string, key: string): Effect.Effect<Option.Option<Setting>, never, AwsSession> =>
  Effect.gen(function*() {
    const fromEnv = yield* Env.optional(variable)
    if (Option.isSome(fromEnv)) return Option.some({ value: fromEnv.value, from: variable })
    const session = yield* AwsSession
    return Option.flatMap(session.profile, (profile) =>
      Option.map(
        Option.filter(ProfileFile.property(profile, key), (property) => property.value !== ""),
        (property): Setting => ({
          value: property.value,
          from: `${key} of profile ${session.profileName}`,
          path: property.path,
          line: property.line
        })
      ))
  })

const invalid = (where: Setting | { readonly from: string }, detail: string) =>
  new CredentialsError({
    source,
    reason: "InvalidConfiguration",
    path: "path" in where ? where.path : undefined,
    line: "line" in where ? where.line : undefined,
    detail: `${where.from}: ${detail}`
  })

// Characters that cannot appear in a URI, even percent-encoding aside.
const invalidUriCharacter = /[\s<>"{}|\\^`\u0000-\u001f\u007f]/

/**
 * Checks an endpoint URL and returns it without trailing slashes. Errors say `invalid uri
 * character`, `is not an http or https URL` or `did not specify a host`.
 *
 * @since 0.1.0
 * @category resolution
 */
export const validateEndpoint = (raw: string): { readonly ok: string } | { readonly error: string } => {
  const match = invalidUriCharacter.exec(raw)
  if (match !== null) {
    return { error: `"${displayUrl(raw)}" is not a valid URL: invalid uri character at position ${match.index + 1}` }
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { error: `"${displayUrl(raw)}" is not a valid URL (expected e.g. http://169.254.169.254)` }
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { error: `"${displayUrl(raw)}" is not an http or https URL` }
  }
  if (url.hostname === "") return { error: `"${displayUrl(raw)}" did not specify a host` }
  // Not echoed: a password in a URL is a secret, and the service never wants one.
  if (url.username !== "" || url.password !== "") return { error: "the URL must not contain a user name or password" }
  return { ok: raw.replace(/\/+$/, "") }
}

/** Parses `IPv4` / `IPv6` in any case. */
const parseMode = (where: Setting, value: string): Effect.Effect<EndpointMode, CredentialsError> => {
  switch (value.trim().toLowerCase()) {
    case "ipv4":
      return Effect.succeed("IPv4")
    case "ipv6":
      return Effect.succeed("IPv6")
    default:
      return Effect.fail(invalid(where, `\`${scrub(value, { max: 64 })}\` is not a valid endpoint mode; use IPv4 or IPv6`))
  }
}

const positiveSeconds = (where: Setting): Effect.Effect<Duration.Duration, CredentialsError> => {
  const seconds = Number(where.value.trim())
  return where.value.trim() !== "" && Number.isFinite(seconds) && seconds > 0
    ? Effect.succeed(Duration.millis(Math.round(seconds * 1000)))
    : Effect.fail(invalid(where, `"${scrub(where.value, { max: 64 })}" is not a positive number of seconds`))
}

const positiveInteger = (where: Setting): Effect.Effect<number, CredentialsError> => {
  const value = Number(where.value.trim())
  return Number.isInteger(value) && value >= 1
    ? Effect.succeed(value)
    : Effect.fail(invalid(where, `"${scrub(where.value, { max: 64 })}" is not a whole number of attempts (1 or more)`))
}

/**
 * Reads the settings: unavailable when `AWS_EC2_METADATA_DISABLED` is `true`; an invalid
 * endpoint, endpoint mode, timeout or number of attempts is an `InvalidConfiguration` error.
 * Endpoint precedence: `options.endpoint`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`, profile
 * `ec2_metadata_service_endpoint`, then the default of the mode (`options.endpointMode`,
 * `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`, profile `ec2_metadata_service_endpoint_mode`, the
 * legacy `AWS_IMDS_USE_IPV6` / `imds_use_ipv6`, else IPv4).
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolveSettings = (
  options: Options = {}
): Effect.Effect<Settings, CredentialsUnavailable | CredentialsError, AwsSession> =>
  Effect.gen(function*() {
    if (Env.isTrue(yield* Env.optional("AWS_EC2_METADATA_DISABLED"))) {
      return yield* new CredentialsUnavailable({ source, reason: "AWS_EC2_METADATA_DISABLED is true" })
    }

    // The mode is checked even when an endpoint overrides it, as botocore does: a typo is a typo.
    const modeSetting: Option.Option<Setting> = options.endpointMode !== undefined && options.endpointMode !== ""
      ? Option.some({ value: options.endpointMode, from: "the endpointMode option" })
      : yield* setting("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ec2_metadata_service_endpoint_mode")
    let mode: EndpointMode = "IPv4"
    let modeFrom = "endpoint mode IPv4 (default)"
    if (Option.isSome(modeSetting)) {
      mode = yield* parseMode(modeSetting.value, modeSetting.value.value)
      modeFrom = `endpoint mode ${mode} (${modeSetting.value.from})`
    } else {
      const useIpv6 = yield* setting("AWS_IMDS_USE_IPV6", "imds_use_ipv6")
      if (Option.isSome(useIpv6) && Env.isTrue(Option.some(useIpv6.value.value))) {
        mode = "IPv6"
        modeFrom = `endpoint mode IPv6 (${useIpv6.value.from})`
      }
    }

    const endpointSetting: Option.Option<Setting> = options.endpoint !== undefined && options.endpoint !== ""
      ? Option.some({ value: options.endpoint, from: "the endpoint option" })
      : yield* setting("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ec2_metadata_service_endpoint")
    let endpoint = defaultEndpoints[mode]
    let endpointSource = modeFrom
    if (Option.isSome(endpointSetting)) {
      const checked = validateEndpoint(endpointSetting.value.value.trim())
      if ("error" in checked) return yield* invalid(endpointSetting.value, checked.error)
      endpoint = checked.ok
      endpointSource = endpointSetting.value.from
    }

    const v1 = yield* setting("AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled")
    const v1Disabled = Env.isTrue(Option.map(v1, (s) => s.value))

    const timeoutSetting = options.timeout !== undefined
      ? Option.none()
      : yield* setting("AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout")
    const timeout = options.timeout !== undefined
      ? Duration.decode(options.timeout)
      : Option.isSome(timeoutSetting)
      ? yield* positiveSeconds(timeoutSetting.value)
      : defaults.timeout

    const attemptsSetting = options.attempts !== undefined
      ? Option.none()
      : yield* setting("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts")
    const attempts = options.attempts !== undefined
      ? Math.max(1, Math.floor(options.attempts))
      : Option.isSome(attemptsSetting)
      ? yield* positiveInteger(attemptsSetting.value)
      : defaults.attempts

    // Bounded whatever the settings say (a typo of 1000 attempts must not keep a chain busy
    // for minutes): clamped, with a warning that says so.
    const boundedAttempts = Math.min(attempts, CallPolicy.maxAttempts)
    const boundedTimeout = Duration.min(timeout, CallPolicy.maxTimeout)
    if (boundedAttempts < attempts) {
      yield* Effect.logWarning(
        `${source}: ${attempts} metadata service attempts asked for; using the maximum, ${CallPolicy.maxAttempts}`
      )
    }
    if (Duration.lessThan(boundedTimeout, timeout)) {
      yield* Effect.logWarning(
        `${source}: a metadata service timeout of ${Duration.format(timeout)} asked for; using the maximum, ${
          Duration.format(CallPolicy.maxTimeout)
        }`
      )
    }
    return {
      endpoint,
      endpointSource,
      v1Disabled,
      v1DisabledBy: v1Disabled && Option.isSome(v1) ? v1.value.from : undefined,
      timeout: boundedTimeout,
      attempts: boundedAttempts
    }
  })

/**
 * An IMDSv2 token and when to stop using it (epoch milliseconds, shortly before its lifetime ends).
 *
 * @internal
 */
export interface CachedToken {
  readonly value: Redacted.Redacted<string>
  readonly expiresAt: number
}

/**
 * What the source keeps between fetches: the IMDSv2 token (until shortly before its lifetime
 * ends) and the last credentials (for static stability). Shared with `AssumeRole` (a
 * `credential_source = Ec2InstanceMetadata` root) and the region lookup; not part of the public API.
 *
 * @internal
 */
export interface State {
  readonly token: Ref.Ref<Option.Option<CachedToken>>
  readonly last: Ref.Ref<Option.Option<Credentials.Credentials>>
}

/**
 * A fresh, empty state.
 *
 * @internal
 */
export const makeState: Effect.Effect<State> = Effect.all({
  token: Ref.make(Option.none<CachedToken>()),
  last: Ref.make(Option.none<Credentials.Credentials>()),
})

/**
 * Fetches the role's credentials once with `state`: unavailable when the service is disabled,
 * unreachable (and there are no last credentials to extend) or the instance has no role; an
 * error when it answers with something that is not credentials, a document whose `Code` is missing
 * or not `Success` (the service always sends one), or refuses in a way that needs the user's
 * attention (IMDSv1 disabled and no token, hop limit).
 *
 * @internal
 */
export const resolveWith = (
  options: Options,
  state: State
): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, AwsSession> =>
  Effect.gen(function*() {
    const settings = yield* resolveSettings(options)
    return yield* Client.fetchCredentials(settings, state, options.httpClient)
  })

/**
 * Fetches the role's credentials once with the settings from the environment and the profile and
 * a fresh state (for sources that start from the instance role, such as
 * `credential_source = Ec2InstanceMetadata`).
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve: Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession
> = Effect.flatMap(makeState, (state) => resolveWith({}, state))

/**
 * The `iam-role` source with tunables. Each layer keeps its own token and last credentials.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession> =>
  Layer.unwrapEffect(Effect.map(makeState, (state) => sourceLayer(source, resolveWith(options, state))))

/**
 * The `iam-role` source with the settings from the environment and the profile.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession> = layerWith(
  {}
)
