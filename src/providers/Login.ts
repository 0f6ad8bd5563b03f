/**
 * Credentials from an `aws login` console session (botocore's `login`): a profile with
 * `login_session`, whose session the AWS CLI cached in `~/.aws/login/cache/<sha256>.json` (or in
 * `AWS_LOGIN_CACHE_DIRECTORY`). The cached credentials are used while they have more than five
 * minutes left; then the session is refreshed through the sign-in service (`CreateOAuth2Token`
 * with a DPoP proof), and the cache is written back atomically. The cache is read at every fetch,
 * so an `aws login` made while the program runs is picked up at the next refresh.
 *
 * The sign-in client (`@aws-sdk/nested-clients`) is loaded only for a profile with `login_session`.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { AwsCredentials } from "../AwsCredentials.js"
import { AwsSession, type Service as Session } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as ConfiguredEndpoint from "../internal/configuredEndpoint.js"
import * as Env from "../internal/env.js"
import { sourceLayer } from "../internal/provider.js"
import * as ProfileFile from "../ProfileFile.js"
import * as Internal from "../internal/login.js"
import * as TokenCache from "../internal/tokenCache.js"

const source = "login" satisfies Credentials.Source

/**
 * Tunables of the `login` source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long one call to the sign-in service may take. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Attempts per call, for timeouts, connection errors, throttling and 5xx. Default 3. */
  readonly maxAttempts?: number | undefined
  /** Refresh the session when its credentials expire within this long. Default 5 minutes (AWS CLI, SDKs). */
  readonly refreshThreshold?: Duration.DurationInput | undefined
}

/**
 * The defaults of `Options`.
 *
 * @since 0.1.0
 * @category models
 */
export const defaults: {
  readonly timeout: Duration.Duration
  readonly maxAttempts: number
  readonly refreshThreshold: Duration.Duration
} = {
  timeout: Duration.seconds(10),
  maxAttempts: 3,
  refreshThreshold: Duration.minutes(5)
}

/**
 * The region for the sign-in service when the cache does not name one: the session's region
 * option, `AWS_REGION`, `AWS_DEFAULT_REGION`, the login profile's `region`, the active profile's.
 */
const regionFor = (
  session: Session,
  profile: ProfileFile.Section
): Effect.Effect<Option.Option<{ readonly name: string; readonly source: string }>> =>
  Effect.gen(function*() {
    if (Option.isSome(session.explicitRegion)) {
      return Option.some({ name: session.explicitRegion.value, source: "explicit" })
    }
    const fromEnv = yield* Env.firstOf(["AWS_REGION", "AWS_DEFAULT_REGION"])
    if (Option.isSome(fromEnv)) return Option.some({ name: fromEnv.value.value, source: `env ${fromEnv.value.name}` })
    const fromProfile = (section: ProfileFile.Section) =>
      Option.map(ProfileFile.value(section, "region"), (name) => ({ name, source: `profile ${section.name}` }))
    return Option.orElse(fromProfile(profile), () => Option.flatMap(session.profile, fromProfile))
  })

/**
 * The credentials of a named profile's `aws login` session, for sources that need one at the
 * root of a chain (assume-role with `source_profile`). Reads the cache at every call.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolveForProfile = (
  options: Options & {
    readonly session: Session
    readonly profileName: string
  }
): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const { profileName, session } = options
    const profile = session.profiles.profiles.get(profileName)
    if (profile === undefined) {
      return yield* new CredentialsUnavailable({ source, reason: "NotConfigured",
 detail: `profile ${profileName} is not defined` })
    }
    const loginSession = ProfileFile.property(profile, "login_session")
    if (Option.isNone(loginSession)) {
      return yield* new CredentialsUnavailable({ source, reason: "NotConfigured",
 detail: `profile ${profileName} has no login_session` })
    }
    if (loginSession.value.value === "") {
      return yield* new CredentialsError({
        source,
        reason: "InvalidConfiguration",
        profile: profileName,
        path: loginSession.value.path,
        line: loginSession.value.line,
        detail: `login_session is empty; run \`aws login --profile ${profileName}\``
      })
    }
    const home = yield* Option.match(session.home, { onNone: () => Env.homeDirectory, onSome: Effect.succeed })
    return yield* Internal.resolve({
      profileName,
      loginSession: loginSession.value.value,
      path: yield* TokenCache.loginCachePath(home, loginSession.value.value),
      region: yield* regionFor(session, profile),
      signinSettings: ConfiguredEndpoint.resolve({
        session,
        profileName: session.profileName,
        service: ConfiguredEndpoint.services.signin,
        source
      }),
      policy: {
        timeout: Duration.decode(options.timeout ?? defaults.timeout),
        attempts: Math.max(1, Math.floor(options.maxAttempts ?? defaults.maxAttempts))
      },
      refreshThreshold: Duration.decode(options.refreshThreshold ?? defaults.refreshThreshold)
    })
  })

/**
 * Resolves the session's profile through its `aws login` session.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve = (
  options: Options = {}
): Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem
> =>
  Effect.flatMap(AwsSession, (session) => resolveForProfile({ ...options, session, profileName: session.profileName }))

/**
 * The `login` source with its tunables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession | FileSystem.FileSystem> =>
  sourceLayer(source, resolve(options))

/**
 * The `login` source with the defaults (10 s per call, 3 attempts, refresh 5 minutes ahead).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem
> = layerWith({})
