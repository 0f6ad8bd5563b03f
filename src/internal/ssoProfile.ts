/**
 * The `sso` source's fetch: a profile's IAM Identity Center settings (merged with its
 * `[sso-session]`, checked as botocore checks them), its cached token (refreshed through
 * SSO-OIDC inside the refresh window, see `sso.ts`), and the portal's role credentials,
 * optionally shared through the AWS CLI cache. Used by the `sso` source for the active profile
 * and by assume-role for an SSO source profile.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type { Service as Session } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as CliCache from "./cliCache.js"
import * as ConfiguredEndpoint from "./configuredEndpoint.js"
import { homeDirectory } from "./env.js"
import * as ProfileSso from "./profileSso.js"
import * as Internal from "./sso.js"

const source = "sso" satisfies Credentials.Source

/** The `sso` source's tunables, defaults applied (see `Sso.Options`). */
export interface Settings {
  readonly timeout: Duration.Duration
  readonly maxAttempts: number
  readonly tokenRefreshWindow: Duration.Duration
  readonly tokenRefreshRetryInterval: Duration.Duration
  readonly cache: "cli" | undefined
}

export const defaults: Settings = {
  timeout: Duration.seconds(10),
  maxAttempts: 3,
  tokenRefreshWindow: Duration.minutes(15),
  tokenRefreshRetryInterval: Duration.seconds(60),
  cache: undefined
}

/** Settings from the options a user gave. */
export const settingsOf = (options: {
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxAttempts?: number | undefined
  readonly tokenRefreshWindow?: Duration.DurationInput | undefined
  readonly tokenRefreshRetryInterval?: Duration.DurationInput | undefined
  readonly cache?: "cli" | undefined
}): Settings => ({
  timeout: Duration.decode(options.timeout ?? defaults.timeout),
  maxAttempts: Math.max(1, Math.floor(options.maxAttempts ?? defaults.maxAttempts)),
  tokenRefreshWindow: Duration.decode(options.tokenRefreshWindow ?? defaults.tokenRefreshWindow),
  tokenRefreshRetryInterval: Duration.decode(options.tokenRefreshRetryInterval ?? defaults.tokenRefreshRetryInterval),
  cache: options.cache
})

/**
 * When each token was last refreshed, so that a failing SSO-OIDC is asked at most once per
 * `tokenRefreshRetryInterval`. Whoever resolves repeatedly (a source layer, an assume-role
 * layer with an SSO root) keeps one for its life.
 */
export type Gate = Internal.Gate

export const makeGate: Effect.Effect<Gate> = Ref.make<ReadonlyMap<string, number>>(new Map())

/** Which profile to resolve, in which session, with which refresh gate. */
export interface Request {
  readonly session: Session
  readonly profileName: string
  readonly gate?: Gate | undefined
}

/** An SSO bearer token and where it came from. */
export interface Token {
  readonly token: Redacted.Redacted<string>
  readonly expiration: DateTime.Utc
  /** The cache file it was read from (or refreshed into). */
  readonly path: string
  readonly sessionName: Option.Option<string>
  readonly startUrl: string
  readonly region: string
}

/** The settings of a profile that names an SSO role: account and role are both set. */
type SsoSettings = ProfileSso.SsoSettings & { readonly accountId: string; readonly roleName: string }

const fromEither = <A>(either: Either.Either<A, CredentialsError>): Effect.Effect<A, CredentialsError> =>
  Either.match(either, { onLeft: Effect.fail, onRight: Effect.succeed })

/**
 * The settings of a profile the `sso` credential source uses: unavailable without
 * `sso_account_id` and `sso_role_name` (botocore's rule; a profile with only `sso_session` is a
 * token profile), an error when the rest is incomplete or inconsistent.
 */
const credentialSettings = (
  session: Session,
  profileName: string
): Effect.Effect<SsoSettings, CredentialsUnavailable | CredentialsError> =>
  Effect.gen(function*() {
    const profile = session.profiles.profiles.get(profileName)
    if (profile === undefined || !ProfileSso.namesSsoRole(profile)) {
      return yield* new CredentialsUnavailable({
        source,
        reason: "NotConfigured",
        detail: profile === undefined
          ? `profile ${profileName} is not defined`
          : `profile ${profileName} has no sso_account_id or sso_role_name`
      })
    }
    const settings = yield* fromEither(ProfileSso.ssoSettingsOf(session.profiles, profileName, profile, source))
    // Both are set: `ssoSettingsOf` requires the other when either is.
    return { ...settings, accountId: settings.accountId!, roleName: settings.roleName! }
  })

const policyOf = (settings: Settings) => ({ timeout: settings.timeout, attempts: settings.maxAttempts })

const homeOf = (session: Session): Effect.Effect<string> =>
  Option.match(session.home, { onNone: () => homeDirectory, onSome: Effect.succeed })

const tokenFor = (
  session: Session,
  settings: Pick<SsoSettings, "profileName" | "sessionName" | "startUrl" | "region">,
  tunables: Settings,
  gate: Gate | undefined
) =>
  Effect.gen(function*() {
    const token = yield* Internal.loadToken({
      profileName: settings.profileName,
      sessionName: settings.sessionName,
      startUrl: settings.startUrl,
      region: settings.region,
      home: yield* homeOf(session),
      oidcSettings: ConfiguredEndpoint.resolve({
        session,
        profileName: session.profileName,
        service: ConfiguredEndpoint.services.ssoOidc,
        source
      }),
      policy: policyOf(tunables),
      refreshWindow: tunables.tokenRefreshWindow,
      retryInterval: tunables.tokenRefreshRetryInterval,
      gate
    })
    return token
  })

/**
 * The SSO bearer token of a profile with `sso_session` (botocore's `SSOTokenProvider`): the
 * `[sso-session]` section must exist and have `sso_start_url` and `sso_region`. Refreshed through
 * SSO-OIDC within the refresh window when the cache has a refresh token. Unavailable for a
 * profile without `sso_session`.
 */
export const fetchToken = (
  request: Request,
  tunables: Settings = defaults
): Effect.Effect<Token, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const { profileName, session } = request
    const profile = session.profiles.profiles.get(profileName)
    if (profile === undefined || !profile.properties.has("sso_session")) {
      return yield* new CredentialsUnavailable({
        source,
        reason: "NotConfigured",
 detail: profile === undefined
          ? `profile ${profileName} is not defined`
          : `profile ${profileName} has no sso_session`
      })
    }
    const settings = yield* fromEither(ProfileSso.ssoSettingsOf(session.profiles, profileName, profile, source))
    const token = yield* tokenFor(session, settings, tunables, request.gate)
    return {
      ...token,
      sessionName: Option.fromNullable(settings.sessionName),
      startUrl: settings.startUrl,
      region: settings.region
    }
  })

/** The AWS CLI cache entry of a profile's role, when `cache: "cli"` is on. */
const cliCacheFor = (session: Session, settings: SsoSettings) =>
  Effect.gen(function*() {
    const directory = CliCache.cacheDirectory(yield* homeOf(session))
    const key = CliCache.ssoCacheKey({
      accountId: settings.accountId,
      roleName: settings.roleName,
      sessionName: settings.sessionName,
      startUrl: settings.startUrl
    })
    return { cliCache: CliCache, directory, key, file: `${key}.json in ${directory}` }
  })

const describeRole = (settings: SsoSettings): string =>
  `profile ${settings.profileName}: IAM Identity Center role ${settings.roleName} in account ${settings.accountId}`

const sessionSuffix = (settings: SsoSettings): string =>
  settings.sessionName === undefined ? "" : ` (sso-session ${settings.sessionName})`

/**
 * The role credentials of a named profile (the active one for the `sso` source, a source
 * profile for assume-role). Reads the token cache at every call; the request's `gate` should
 * live as long as its caller, to keep SSO-OIDC refreshes spaced.
 */
export const fetchCredentials = (
  request: Request,
  tunables: Settings = defaults
): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const { profileName, session } = request
    const settings = yield* credentialSettings(session, profileName)
    const cache = tunables.cache === "cli" ? yield* cliCacheFor(session, settings) : undefined
    if (cache !== undefined) {
      const hit = yield* cache.cliCache.read(cache.directory, cache.key)
      if (Option.isSome(hit)) {
        yield* Effect.logDebug("SSO role credentials from the AWS CLI cache").pipe(
          Effect.annotateLogs({ source, profile: profileName, key: cache.key })
        )
        return Credentials.make({
          accessKeyId: hit.value.accessKeyId,
          secretAccessKey: hit.value.secretAccessKey,
          sessionToken: hit.value.sessionToken,
          expiration: hit.value.expiration,
          // Files written before botocore added AccountId have none; the profile names it.
          accountId: hit.value.accountId ?? settings.accountId,
          source,
          provenance: `${describeRole(settings)}${sessionSuffix(settings)}, from the AWS CLI cache (${cache.file})`
        })
      }
    }
    const portal = yield* ConfiguredEndpoint.resolve({
      session,
      profileName: session.profileName,
      service: ConfiguredEndpoint.services.sso,
      source
    })
    const token = yield* tokenFor(session, settings, tunables, request.gate)
    const credentials = yield* Internal.getRoleCredentials({
      profileName,
      accountId: settings.accountId,
      roleName: settings.roleName,
      region: settings.region,
      token,
      settings: portal,
      policy: policyOf(tunables),
      fix: Internal.loginCommand(settings),
      provenance: `${describeRole(settings)} via SSO portal in ${settings.region}${
        sessionSuffix(settings)
      }, token ${token.path}`
    })
    if (cache !== undefined && Option.isSome(credentials.expiration) && Option.isSome(credentials.sessionToken)) {
      yield* cache.cliCache.write(cache.directory, cache.key, {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken.value,
        expiration: credentials.expiration.value,
        accountId: settings.accountId,
        assumedRoleArn: undefined
      }, "sso")
    }
    return credentials
  })