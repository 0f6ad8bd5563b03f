/**
 * The remote half of the `sso` source: the token cache (read, refreshed through SSO-OIDC
 * `CreateToken`, written back atomically) and the portal's `GetRoleCredentials`, both through the
 * AWS SDK clients, which are loaded with a dynamic `import()` on first use.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Credentials from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import type { EndpointSettings } from "./configuredEndpoint.js"
import * as SdkCall from "./sdkCall.js"
import * as TokenCache from "./tokenCache.js"
import { headerUnsafe } from "./http.js"
import { decodeValue } from "./untrusted.js"
import { remember, secret } from "./scrub.js"

const source = "sso" satisfies Credentials.Source

/** The last refresh attempt per cache file, shared by the resolutions of one layer. */
export type Gate = Ref.Ref<ReadonlyMap<string, number>>

export interface TokenRequest {
  readonly profileName: string
  /** The `[sso-session]` name; `undefined` for a legacy profile (the start URL keys the cache). */
  readonly sessionName: string | undefined
  readonly startUrl: string
  readonly region: string
  readonly home: string
  /** Endpoint settings for SSO-OIDC, read only when a refresh is due. */
  readonly oidcSettings: Effect.Effect<EndpointSettings, CredentialsError>
  readonly policy: SdkCall.CallPolicy
  readonly refreshWindow: Duration.Duration
  readonly retryInterval: Duration.Duration
  readonly gate: Gate | undefined
}

export interface Token {
  readonly token: Redacted.Redacted<string>
  readonly expiration: DateTime.Utc
  readonly path: string
}

/** The command that writes a fresh token for this profile. */
export const loginCommand = (request: Pick<TokenRequest, "sessionName" | "profileName">): string =>
  request.sessionName === undefined
    ? `aws sso login --profile ${request.profileName}`
    : `aws sso login --sso-session ${request.sessionName}`

const CreateTokenOutput = Schema.Struct({
  accessToken: Schema.String.pipe(Schema.minLength(1)),
  expiresIn: Schema.Number.pipe(Schema.positive()),
  refreshToken: Schema.optional(Schema.NullOr(Schema.String))
})

const RoleCredentials = Schema.Struct({
  accessKeyId: Schema.String.pipe(Schema.minLength(1)),
  secretAccessKey: Schema.String.pipe(Schema.minLength(1)),
  sessionToken: Schema.String.pipe(Schema.minLength(1)),
  expiration: Schema.Number
})

/** @internal */
export const decodeCreateToken = decodeValue(CreateTokenOutput)

/** @internal */
export const decodeRoleCredentials = decodeValue(RoleCredentials)

/** Why a refresh did not happen or failed, for the log and the error message. */
type RefreshOutcome =
  | { readonly _tag: "Refreshed"; readonly token: Token }
  | { readonly _tag: "Skipped"; readonly why: string }
  | { readonly _tag: "Failed"; readonly why: string }

const refresh = (
  request: TokenRequest,
  entry: TokenCache.Entry<TokenCache.SsoToken>,
  now: number
): Effect.Effect<RefreshOutcome, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const token = entry.value
    const missing = (["refreshToken", "clientId", "clientSecret"] as const).filter((key) =>
      typeof token[key] !== "string" || token[key] === ""
    )
    if (missing.length > 0) {
      return { _tag: "Skipped", why: `the cached token has no ${missing.join(", ")}` } as const
    }
    if (typeof token.registrationExpiresAt === "string") {
      const registration = TokenCache.parseCacheTimestamp(token.registrationExpiresAt)
      if (Option.isSome(registration) && DateTime.toEpochMillis(registration.value) <= now) {
        return {
          _tag: "Skipped",
          why: `the client registration expired at ${DateTime.formatIso(registration.value)}`
        } as const
      }
    }
    if (request.gate !== undefined) {
      // Check and record in one step, so that concurrent resolutions make one attempt.
      const interval = Duration.toMillis(request.retryInterval)
      const allowed = yield* Ref.modify(request.gate, (map): readonly [boolean, ReadonlyMap<string, number>] => {
        const last = map.get(entry.path)
        return last !== undefined && now - last < interval ? [false, map] : [true, new Map(map).set(entry.path, now)]
      })
      if (!allowed) {
        return {
          _tag: "Skipped",
          why: `a refresh was attempted less than ${Duration.format(request.retryInterval)} ago`
        } as const
      }
    }

    const settings = yield* request.oidcSettings
    const where = Option.match(settings.endpoint, {
      onNone: () => `SSO-OIDC in ${request.region}`,
      onSome: (endpoint) => `SSO-OIDC at ${endpoint.url} (from ${endpoint.from})`
    })
    const { CreateTokenCommand, SSOOIDCClient } = yield* Effect.promise(() => import("@aws-sdk/client-sso-oidc"))
    const sent = yield* Effect.scoped(
      Effect.flatMap(
        SdkCall.scopedClient(() => new SSOOIDCClient(SdkCall.clientConfig(request.region, settings))),
        (client) => {
          // The cache's client secret and refresh token are secrets too, should an answer echo them.
          remember(token.clientSecret ?? undefined)
          remember(token.refreshToken ?? undefined)
          return SdkCall.call(
            (abortSignal) =>
              client.send(
                new CreateTokenCommand({
                  grantType: "refresh_token",
                  clientId: token.clientId!,
                  clientSecret: token.clientSecret!,
                  refreshToken: token.refreshToken!
                }),
                { abortSignal }
              ),
            request.policy
          )
        }
      )
    ).pipe(Effect.either)
    if (Either.isLeft(sent)) {
      return { _tag: "Failed", why: `${where}: CreateToken ${SdkCall.describe(sent.left, request.policy)}` } as const
    }
    const output = decodeCreateToken(sent.right)
    if (Either.isLeft(output)) {
      return {
        _tag: "Failed",
        why: `${where}: CreateToken answered without a usable token (${output.left})`
      } as const
    }
    const expiresAt = now + output.right.expiresIn * 1000
    const updated: Record<string, unknown> = {
      ...entry.raw,
      startUrl: request.startUrl,
      region: request.region,
      accessToken: output.right.accessToken,
      expiresAt: TokenCache.formatCacheTimestamp(expiresAt)
    }
    if (typeof output.right.refreshToken === "string" && output.right.refreshToken !== "") {
      updated.refreshToken = output.right.refreshToken
    }
    // Write back only over the file we refreshed: if `aws sso login` wrote a new token meanwhile
    // theirs stays, and after `aws sso logout` removed it, it stays removed.
    const onDisk = yield* TokenCache.read(entry.path, TokenCache.SsoToken, {
      source,
      profile: request.profileName,
      what: "SSO token cache file",
      fix: loginCommand(request)
    }).pipe(Effect.option, Effect.map(Option.flatten))
    const unchanged = Option.isSome(onDisk) && onDisk.value.value.accessToken === token.accessToken
    if (unchanged) {
      yield* TokenCache.writeAtomic(entry.path, updated).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning("the refreshed SSO token could not be saved; it is used for this process only").pipe(
            Effect.annotateLogs({ source, profile: request.profileName, error: error.message })
          )
        )
      )
    }
    yield* Effect.logDebug("SSO token refreshed").pipe(
      Effect.annotateLogs({ source, profile: request.profileName, path: entry.path })
    )
    return {
      _tag: "Refreshed",
      token: {
        token: secret(output.right.accessToken),
        expiration: DateTime.unsafeMake(Math.floor(expiresAt / 1000) * 1000),
        path: entry.path
      }
    } as const
  })

/**
 * The SSO access token of a profile: read from the cache at every call (so an `aws sso login`
 * made while the program runs is seen at the next refresh), refreshed through SSO-OIDC when it
 * is within the refresh window and the cache holds a refresh token (`sso_session` profiles),
 * written back atomically.
 */
export const loadToken = (
  request: TokenRequest
): Effect.Effect<Token, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const cacheId = request.sessionName ?? request.startUrl
    const file = TokenCache.ssoCachePath(request.home, cacheId)
    const fix = loginCommand(request)
    const subject = request.sessionName === undefined
      ? `start URL ${request.startUrl}`
      : `sso-session ${request.sessionName}`
    const entry = yield* TokenCache.read(file, TokenCache.SsoToken, {
      source,
      profile: request.profileName,
      what: "SSO token cache file",
      fix
    })
    if (Option.isNone(entry)) {
      return yield* new CredentialsError({
        source,
        reason: "TokenMissing",
        profile: request.profileName,
        path: file,
        detail: `no cached SSO token for ${subject}; run \`${fix}\``
      })
    }
    const expiration = TokenCache.parseCacheTimestamp(entry.value.value.expiresAt)
    if (Option.isNone(expiration)) {
      return yield* new CredentialsError({
        source,
        reason: "MalformedFile",
        profile: request.profileName,
        path: file,
        detail: `the SSO token cache file has an expiresAt that is not an ISO 8601 timestamp; run \`${fix}\``
      })
    }
    const now = yield* Clock.currentTimeMillis
    const expiresAt = DateTime.toEpochMillis(expiration.value)
    let refreshProblem: string | undefined
    if (request.sessionName !== undefined && expiresAt - now < Duration.toMillis(request.refreshWindow)) {
      const outcome = yield* refresh(request, entry.value, now)
      switch (outcome._tag) {
        case "Refreshed":
          return outcome.token
        case "Failed":
          refreshProblem = outcome.why
          if (expiresAt > now) {
            yield* Effect.logWarning("SSO token refresh failed; using the cached token until it expires").pipe(
              Effect.annotateLogs({
                source,
                profile: request.profileName,
                error: outcome.why,
                expiresAt: DateTime.formatIso(expiration.value)
              })
            )
          }
          break
        case "Skipped":
          refreshProblem = `not refreshed: ${outcome.why}`
          break
      }
    }
    if (expiresAt <= now) {
      return yield* new CredentialsError({
        source,
        reason: "TokenExpired",
        profile: request.profileName,
        path: file,
        detail: `the SSO token for ${subject} expired at ${DateTime.formatIso(expiration.value)}${
          refreshProblem === undefined ? "" : ` (${refreshProblem})`
        }; run \`${fix}\``
      })
    }
    return { token: secret(entry.value.value.accessToken), expiration: expiration.value, path: file }
  }).pipe(Effect.withSpan("Sso.loadToken", { attributes: { profile: request.profileName } }))

export interface RoleRequest {
  readonly profileName: string
  readonly accountId: string
  readonly roleName: string
  readonly region: string
  readonly token: Token
  readonly settings: EndpointSettings
  readonly policy: SdkCall.CallPolicy
  /** The command that writes a fresh token (for a rejected token). */
  readonly fix: string
  readonly provenance: string
}

/** `GetRoleCredentials` with the token: the role's temporary credentials. */
export const getRoleCredentials = (
  request: RoleRequest
): Effect.Effect<Credentials.Credentials, CredentialsError> =>
  Effect.gen(function*() {
    const where = Option.match(request.settings.endpoint, {
      onNone: () => `the SSO portal in ${request.region}`,
      onSome: (endpoint) => `the SSO portal at ${endpoint.url} (from ${endpoint.from})`
    })
    const fail = (reason: CredentialsError["reason"], detail: string) =>
      new CredentialsError({ source, reason, profile: request.profileName, detail })
    const unsafe = headerUnsafe(Redacted.value(request.token.token))
    if (unsafe !== undefined) {
      return yield* fail(
        "InvalidConfiguration",
        `the SSO token holds a character an HTTP header cannot carry (${unsafe}); the token is not shown; run \`${request.fix}\``
      )
    }
    const { GetRoleCredentialsCommand, SSOClient } = yield* Effect.promise(() => import("@aws-sdk/client-sso"))
    const sent = yield* Effect.scoped(
      Effect.flatMap(
        SdkCall.scopedClient(() => new SSOClient(SdkCall.clientConfig(request.region, request.settings))),
        (client) =>
          SdkCall.call(
            (abortSignal) =>
              client.send(
                new GetRoleCredentialsCommand({
                  accountId: request.accountId,
                  roleName: request.roleName,
                  accessToken: Redacted.value(request.token.token)
                }),
                { abortSignal }
              ),
            request.policy
          )
      )
    ).pipe(Effect.either)
    const role = `role ${request.roleName} in account ${request.accountId}`
    if (Either.isLeft(sent)) {
      const failure = sent.left
      const what = SdkCall.describe(failure, request.policy)
      switch (failure._tag) {
        case "Timeout":
          return yield* fail("Timeout", `${where}: GetRoleCredentials for ${role}: ${what}`)
        case "Network":
          return yield* fail("Unreachable", `${where}: GetRoleCredentials for ${role}: ${what}`)
        case "Malformed":
          return yield* fail("InvalidResponse", `${where}: GetRoleCredentials for ${role}: ${what}`)
        case "Local":
          return yield* fail("InvalidConfiguration", `${where}: GetRoleCredentials for ${role}: ${what}`)
        case "Service":
          if (failure.status === 401 || failure.name === "UnauthorizedException") {
            return yield* fail(
              "TokenExpired",
              `${where} rejected the cached SSO token (${what}): the session has expired or was signed out; ` +
                `run \`${request.fix}\``
            )
          }
          if (failure.status === 404 || failure.name === "ResourceNotFoundException") {
            return yield* fail(
              "ServiceError",
              `${where}: ${role} is not assigned to this user (${what}); check sso_account_id and sso_role_name`
            )
          }
          return yield* fail("ServiceError", `${where}: GetRoleCredentials for ${role}: ${what}`)
      }
    }
    const decoded = decodeRoleCredentials(sent.right.roleCredentials ?? null)
    if (Either.isLeft(decoded)) {
      return yield* fail(
        "InvalidResponse",
        `${where}: GetRoleCredentials for ${role} answered without usable roleCredentials (${decoded.left})`
      )
    }
    const credentials = decoded.right
    const now = yield* Clock.currentTimeMillis
    if (!Number.isFinite(credentials.expiration) || credentials.expiration <= now) {
      return yield* fail(
        "Expired",
        `${where}: GetRoleCredentials for ${role} returned credentials that have already expired${
          Number.isFinite(credentials.expiration) ? ` (at ${new Date(credentials.expiration).toISOString()})` : ""
        }`
      )
    }
    return Credentials.make({
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
      expiration: new Date(credentials.expiration),
      accountId: request.accountId,
      source,
      provenance: request.provenance
    })
  }).pipe(Effect.withSpan("Sso.getRoleCredentials", { attributes: { profile: request.profileName } }))
