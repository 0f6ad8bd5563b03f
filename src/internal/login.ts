/**
 * The remote half of the `login` source (`aws login` console credentials), for a profile with
 * `login_session`: the cached session (`~/.aws/login/cache/<sha256>.json`), and its
 * refresh through the sign-in service's `CreateOAuth2Token` (grant `refresh_token`) with a DPoP
 * proof signed by the session's `dpopKey`, as the AWS CLI, botocore and the JS SDK do. The
 * refreshed session is written back atomically, unknown fields kept.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { createPrivateKey, createPublicKey, type KeyObject, randomUUID, sign } from "node:crypto"
import type { SigninClient } from "@aws-sdk/nested-clients/signin"
import * as Credentials from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import type { EndpointSettings } from "./configuredEndpoint.js"
import * as SdkCall from "./sdkCall.js"
import * as TokenCache from "./tokenCache.js"
import { decodeValue } from "./untrusted.js"
import { remember } from "./scrub.js"

const source = "login" satisfies Credentials.Source

// ---------------------------------------------------------------------------------------------
// DPoP (RFC 9449) proofs
// ---------------------------------------------------------------------------------------------

/** The session's `dpopKey`: a PEM EC P-256 private key (SEC 1 or PKCS #8). */
export const loadDpopKey = (pem: string): Either.Either<KeyObject, string> => {
  let key: KeyObject
  try {
    key = createPrivateKey({ key: pem, format: "pem" })
  } catch {
    return Either.left("is not a PEM private key")
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    return Either.left("is not an EC P-256 private key")
  }
  return Either.right(key)
}

const base64url = (data: string | Uint8Array): string => Buffer.from(data).toString("base64url")

/**
 * A DPoP proof for one request: a JWT (ES256) whose header carries the public key and whose
 * claims bind it to the method and URL, at `iat` (seconds).
 */
export const dpopProof = (key: KeyObject, method: string, url: string, iat: number): string => {
  const jwk = createPublicKey(key).export({ format: "jwk" })
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: { kty: "EC", x: jwk.x, y: jwk.y, crv: "P-256" } }
  const payload = { htm: method, htu: url, iat, jti: randomUUID() }
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`
  const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" })
  return `${input}.${base64url(signature)}`
}

// ---------------------------------------------------------------------------------------------
// The session
// ---------------------------------------------------------------------------------------------

export interface Request {
  readonly profileName: string
  readonly loginSession: string
  readonly path: string
  /** The region for the sign-in service when the cache does not name one (`signInRegion`). */
  readonly region: Option.Option<{ readonly name: string; readonly source: string }>
  /** Endpoint settings for the sign-in service, read only when a refresh is due. */
  readonly signinSettings: Effect.Effect<EndpointSettings, CredentialsError>
  readonly policy: SdkCall.CallPolicy
  /** Refresh when the credentials expire within this long. */
  readonly refreshThreshold: Duration.Duration
}

const TokenOutput = Schema.Struct({
  accessToken: Schema.Struct({
    accessKeyId: Schema.String.pipe(Schema.minLength(1)),
    secretAccessKey: Schema.String.pipe(Schema.minLength(1)),
    sessionToken: Schema.String.pipe(Schema.minLength(1))
  }),
  refreshToken: Schema.String.pipe(Schema.minLength(1)),
  expiresIn: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.positive())))
})

/** @internal */
export const decodeTokenOutput = decodeValue(TokenOutput)

/** The command that writes a fresh session for this profile. */
export const loginCommand = (profileName: string): string => `aws login --profile ${profileName}`

const toCredentials = (
  token: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken: string },
  accountId: string,
  expiration: DateTime.Utc,
  provenance: string
): Credentials.Credentials =>
  Credentials.make({
    accessKeyId: token.accessKeyId,
    secretAccessKey: token.secretAccessKey,
    sessionToken: token.sessionToken,
    expiration,
    accountId,
    source,
    provenance
  })

/**
 * The credentials of the session: the cached ones while they have more than the refresh
 * threshold left, otherwise refreshed. A refresh that fails while the cached credentials are
 * still valid logs a warning and serves them; once they have expired it is an error.
 */
export const resolve = (
  request: Request
): Effect.Effect<Credentials.Credentials, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fix = loginCommand(request.profileName)
    const context = { source, profile: request.profileName, what: "aws login cache file", fix } as const
    const fail = (reason: CredentialsError["reason"], detail: string) =>
      new CredentialsError({ source, reason, profile: request.profileName, path: request.path, detail })
    const entry = yield* TokenCache.read(request.path, TokenCache.LoginToken, context)
    if (Option.isNone(entry)) {
      return yield* fail(
        "TokenMissing",
        `no aws login session is cached for this profile's login_session; run \`${fix}\``
      )
    }
    const token = entry.value.value
    const expiration = TokenCache.parseCacheTimestamp(token.accessToken.expiresAt)
    if (Option.isNone(expiration)) {
      return yield* fail(
        "MalformedFile",
        `the aws login cache file has an accessToken.expiresAt that is not an ISO 8601 timestamp; run \`${fix}\``
      )
    }
    const provenance = `profile ${request.profileName}: aws login session (${request.path})`
    const now = yield* Clock.currentTimeMillis
    const expiresAt = DateTime.toEpochMillis(expiration.value)
    const cached = toCredentials(token.accessToken, token.accessToken.accountId, expiration.value, provenance)
    if (expiresAt - now > Duration.toMillis(request.refreshThreshold)) return cached

    // The refresh token and the key are secrets too, should an answer echo them.
    remember(token.refreshToken)
    remember(token.dpopKey)
    const key = loadDpopKey(token.dpopKey)
    if (Either.isLeft(key)) {
      return yield* fail("MalformedFile", `the aws login cache file's dpopKey ${key.left}; run \`${fix}\``)
    }

    const outcome = yield* refresh(request, entry.value, key.right, now).pipe(Effect.either)
    if (Either.isRight(outcome)) return outcome.right
    const problem = outcome.left
    if (expiresAt > now) {
      yield* Effect.logWarning("aws login session refresh failed; using the cached credentials until they expire").pipe(
        Effect.annotateLogs({
          source,
          profile: request.profileName,
          error: problem.message,
          expiresAt: DateTime.formatIso(expiration.value)
        })
      )
      return cached
    }
    return yield* new CredentialsError({
      ...problem,
      detail: `the cached credentials expired at ${DateTime.formatIso(expiration.value)} ` +
        `and the refresh failed: ${problem.detail}`
    })
  }).pipe(Effect.withSpan("Login.resolve", { attributes: { profile: request.profileName } }))

/** The request as the SDK's middleware sees it when it is finalized. */
interface FinalRequest {
  method?: string
  protocol?: string
  hostname?: string
  port?: number
  path?: string
  headers?: Record<string, string>
}

/**
 * Adds the DPoP proof to every request of `client`. The proof is bound to the URL the request
 * actually goes to, known once the endpoint has been resolved: it is added when the request is
 * finalized.
 */
const withDpopProof = (client: SigninClient, key: KeyObject, iat: number): SigninClient => {
  client.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as FinalRequest
      if (request.headers !== undefined) {
        const url = `${request.protocol ?? "https:"}//${request.hostname ?? ""}${
          request.port === undefined ? "" : `:${request.port}`
        }${request.path ?? "/"}`
        request.headers = { ...request.headers, DPoP: dpopProof(key, request.method ?? "POST", url, iat) }
      }
      return next(args)
    },
    { step: "finalizeRequest", name: "effectAwsCredentialsDpop", override: true }
  )
  return client
}

const refresh = (
  request: Request,
  entry: TokenCache.Entry<TokenCache.LoginToken>,
  key: KeyObject,
  now: number
): Effect.Effect<Credentials.Credentials, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const token = entry.value
    const fix = loginCommand(request.profileName)
    const fail = (reason: CredentialsError["reason"], detail: string) =>
      new CredentialsError({ source, reason, profile: request.profileName, path: request.path, detail })
    const settings = yield* request.signinSettings
    const region = typeof token.signInRegion === "string" && token.signInRegion !== ""
      ? Option.some({ name: token.signInRegion, source: "signInRegion in the cache file" })
      : request.region
    if (Option.isNone(region) && Option.isNone(settings.endpoint)) {
      return yield* fail(
        "InvalidConfiguration",
        `the aws login session needs a refresh but no region is set for the sign-in service; ` +
          `set region in profile ${request.profileName} or AWS_REGION`
      )
    }
    // With an endpoint override the region only names the signing scope, which this call does not use.
    const regionName = Option.match(region, { onNone: () => "us-east-1", onSome: (r) => r.name })
    const where = Option.match(settings.endpoint, {
      onNone: () => `the sign-in service in ${regionName}`,
      onSome: (endpoint) => `the sign-in service at ${endpoint.url} (from ${endpoint.from})`
    })
    const iat = Math.floor(now / 1000)
    const { CreateOAuth2TokenCommand, SigninClient } = yield* Effect.promise(() =>
      import("@aws-sdk/nested-clients/signin")
    )
    const sent = yield* Effect.scoped(
      Effect.flatMap(
        SdkCall.scopedClient(() => withDpopProof(new SigninClient(SdkCall.clientConfig(regionName, settings)), key, iat)),
        (client) =>
          SdkCall.call(
            (abortSignal) =>
              client.send(
                new CreateOAuth2TokenCommand({
                  tokenInput: { clientId: token.clientId, refreshToken: token.refreshToken, grantType: "refresh_token" }
                }),
                { abortSignal }
              ),
            request.policy
          )
      )
    ).pipe(Effect.either)

    if (Either.isLeft(sent)) {
      const failure = sent.left
      const what = `${where}: CreateOAuth2Token ${SdkCall.describe(failure, request.policy)}`
      switch (failure._tag) {
        case "Timeout":
          return yield* fail("Timeout", `${what}; the aws login session could not be refreshed`)
        case "Network":
          return yield* fail("Unreachable", `${what}; the aws login session could not be refreshed`)
        case "Malformed":
          return yield* fail("InvalidResponse", what)
        case "Local":
          return yield* fail("InvalidConfiguration", what)
        case "Service":
          if (failure.errorCode === "TOKEN_EXPIRED" || failure.errorCode === "USER_CREDENTIALS_CHANGED") {
            return yield* fail(
              "TokenExpired",
              `${what}: the aws login session has expired or the password changed; run \`${fix}\``
            )
          }
          if (failure.errorCode === "INSUFFICIENT_PERMISSIONS") {
            return yield* fail(
              "ServiceError",
              `${what}: the role lacks permission for signin:CreateOAuth2Token`
            )
          }
          return yield* fail(
            "ServiceError",
            `${what}; the aws login session could not be refreshed, run \`${fix}\` if this persists`
          )
      }
    }
    const output = decodeTokenOutput(sent.right.tokenOutput ?? null)
    if (Either.isLeft(output)) {
      return yield* fail(
        "InvalidResponse",
        `${where}: CreateOAuth2Token answered without usable credentials (${output.left}); ` +
          `run \`${fix}\` if this persists`
      )
    }
    const fresh = output.right
    const expiresAtMillis = Math.floor((now + (fresh.expiresIn ?? 900) * 1000) / 1000) * 1000
    const expiresAt = TokenCache.formatCacheTimestamp(expiresAtMillis)
    const previous = typeof entry.raw.accessToken === "object" && entry.raw.accessToken !== null
      ? entry.raw.accessToken as Record<string, unknown>
      : {}
    const updated = {
      ...entry.raw,
      accessToken: {
        ...previous,
        accessKeyId: fresh.accessToken.accessKeyId,
        secretAccessKey: fresh.accessToken.secretAccessKey,
        sessionToken: fresh.accessToken.sessionToken,
        accountId: token.accessToken.accountId,
        expiresAt
      },
      refreshToken: fresh.refreshToken
    }
    // Write back only over the session we refreshed: one that `aws login` wrote meanwhile stays.
    const onDisk = yield* TokenCache.read(request.path, TokenCache.LoginToken, {
      source,
      profile: request.profileName,
      what: "aws login cache file",
      fix
    }).pipe(Effect.option, Effect.map(Option.flatten))
    if (Option.isSome(onDisk) && onDisk.value.value.refreshToken === token.refreshToken) {
      yield* TokenCache.writeAtomic(request.path, updated).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning(
            "the refreshed aws login session could not be saved; the next refresh may need a new `aws login`"
          ).pipe(Effect.annotateLogs({ source, profile: request.profileName, error: error.message }))
        )
      )
    }
    yield* Effect.logDebug("aws login session refreshed").pipe(
      Effect.annotateLogs({ source, profile: request.profileName, path: request.path })
    )
    return toCredentials(
      fresh.accessToken,
      token.accessToken.accountId,
      DateTime.unsafeMake(expiresAtMillis),
      `profile ${request.profileName}: aws login session, refreshed (${request.path})`
    )
  }).pipe(Effect.withSpan("Login.refresh", { attributes: { profile: request.profileName } }))
