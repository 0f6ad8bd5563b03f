/**
 * The instance metadata service's settings (endpoint, mode, IMDSv1, timeout, attempts), each from
 * the caller, else the environment, else the active profile; and the state a fetcher keeps
 * between fetches. Shared by the `iam-role` source, assume-role roots with
 * `credential_source = Ec2InstanceMetadata` and the region's last link.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as CallPolicy from "./callPolicy.js"
import * as Env from "./env.js"
import type * as Http from "./http.js"
import * as HttpPlatform from "./httpPlatform.js"
import * as ConfigSetting from "./setting.js"
import { displayUrl, scrub } from "./scrub.js"

const source = "iam-role" satisfies Credentials.Source

/**
 * Which address family the default endpoint uses.
 */
export type EndpointMode = "IPv4" | "IPv6"

/**
 * The default endpoints of each mode.
 */
export const defaultEndpoints: Readonly<Record<EndpointMode, string>> = {
  IPv4: "http://169.254.169.254",
  IPv6: "http://[fd00:ec2::254]"
}

/** What the caller gave, each winning over the environment and the profile (the source's options). */
export interface Overrides {
  readonly endpoint?: string | undefined
  readonly endpointMode?: string | undefined
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxAttempts?: number | undefined
  readonly httpClient?: HttpClient.HttpClient | undefined
}

/**
 * The defaults of the overrides and the fixed protocol values.
 */
export const defaults: {
  readonly timeout: Duration.Duration
  readonly maxAttempts: number
  /** The IMDSv2 token's requested lifetime (`x-aws-ec2-metadata-token-ttl-seconds`). */
  readonly tokenTtl: Duration.Duration
  /** A cached token is fetched again this long before its lifetime ends. */
  readonly tokenRefreshBuffer: Duration.Duration
  /**
   * The wait between attempts: none, as botocore retries the metadata service at once (it is
   * local; a wait would only lengthen the chain on a machine without one).
   */
  readonly backoff: Duration.Duration
  /**
   * How long the IMDSv2 token request may go unanswered before the first IMDSv1 GET is sent
   * alongside it, when IMDSv1 is allowed (at most a quarter of the timeout). A service that
   * accepts connections and never answers then costs one timeout plus this, not two timeouts in
   * a row; a healthy service answers the token request in milliseconds, so the GET is not sent.
   */
  readonly v1ProbeDelay: Duration.Duration
  /** Static stability: how far beyond "now" the last credentials are extended during an outage. */
  readonly staleExtension: { readonly min: Duration.Duration; readonly max: Duration.Duration }
  /**
   * How long a session remembers that an endpoint answered nothing (see `imdsReachability.ts`):
   * long enough to cover a program's start (the chain, the region, the clients built on them),
   * short enough that an instance whose service had a blip is not locked out of it.
   */
  readonly unreachableFor: Duration.Duration
} = {
  timeout: Duration.seconds(1),
  maxAttempts: 1,
  tokenTtl: Duration.seconds(21600),
  tokenRefreshBuffer: Duration.minutes(2),
  backoff: Duration.zero,
  v1ProbeDelay: Duration.millis(250),
  staleExtension: { min: Duration.minutes(5), max: Duration.minutes(10) },
  unreachableFor: Duration.minutes(1)
}

/**
 * The settings the source runs with, and where each came from.
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
  readonly maxAttempts: number
  /** The program's own `HttpClient` (the `httpClient` option), else Node's: chosen once, here. */
  readonly transport: Http.Transport
}

interface Setting {
  readonly value: string
  readonly from: string
  readonly path?: string | undefined
  readonly line?: number | undefined
}

/** A setting from the environment first, then the active profile (in this source's wording). */
const setting = (variable: string, key: string): Effect.Effect<Option.Option<Setting>, never, AwsSession> =>
  Effect.flatMap(AwsSession, (session) =>
    Effect.map(
      ConfigSetting.read(session.profile, session.profileName, { variable, key }),
      Option.map(({ origin, value }): Setting =>
        origin._tag === "Env"
          ? { value, from: origin.variable }
          : { value, from: `${key} of profile ${origin.profileName}`, path: origin.property.path, line: origin.property.line }
      )
    ))

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
 */
export const resolveSettings = (
  options: Overrides = {}
): Effect.Effect<Settings, CredentialsUnavailable | CredentialsError, AwsSession> =>
  Effect.gen(function*() {
    if (Env.isTrue(yield* Env.optional("AWS_EC2_METADATA_DISABLED"))) {
      return yield* new CredentialsUnavailable({ source, reason: "Disabled",
 detail: "AWS_EC2_METADATA_DISABLED is true" })
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

    const attemptsSetting = options.maxAttempts !== undefined
      ? Option.none()
      : yield* setting("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts")
    const attempts = options.maxAttempts !== undefined
      ? Math.max(1, Math.floor(options.maxAttempts))
      : Option.isSome(attemptsSetting)
      ? yield* positiveInteger(attemptsSetting.value)
      : defaults.maxAttempts

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
      maxAttempts: boundedAttempts,
      transport: HttpPlatform.transportFor(options.httpClient)
    }
  })

/**
 * An IMDSv2 token and when to stop using it (epoch milliseconds, shortly before its lifetime ends).
 */
export interface CachedToken {
  readonly value: Redacted.Redacted<string>
  readonly expiresAt: number
}

/**
 * What the source keeps between fetches: the IMDSv2 token (until shortly before its lifetime
 * ends) and the last credentials (for static stability). Shared with `AssumeRole` (a
 * `credential_source = Ec2InstanceMetadata` root) and the region lookup; not part of the public API.
 */
export interface State {
  readonly token: Ref.Ref<Option.Option<CachedToken>>
  readonly last: Ref.Ref<Option.Option<Credentials.Credentials>>
}

/**
 * A fresh, empty state.
 */
export const makeState: Effect.Effect<State> = Effect.all({
  token: Ref.make(Option.none<CachedToken>()),
  last: Ref.make(Option.none<Credentials.Credentials>()),
})

