/**
 * Credentials from `AssumeRoleWithWebIdentity` (botocore's `assume-role-with-web-identity`): an
 * OIDC token in a file (EKS IRSA, GitHub Actions, ...) exchanged for a role's credentials with an
 * unsigned STS call. The token file is read again at every refresh, since its issuer rotates it.
 *
 * Configuration, each setting from the environment first and then from the active profile, as
 * botocore reads them (so the two may mix):
 *
 * | setting | environment | profile |
 * |---|---|---|
 * | token file | `AWS_WEB_IDENTITY_TOKEN_FILE` | `web_identity_token_file` |
 * | role | `AWS_ROLE_ARN` | `role_arn` |
 * | session name | `AWS_ROLE_SESSION_NAME` | `role_session_name` |
 *
 * The environment is ignored when the profile was named in code or on the command line
 * (botocore's `disable_env_vars`). No token file: unavailable. A token file without a role:
 * `InvalidConfiguration`. The session name defaults to `botocore-session-<unix time>`.
 *
 * STS is called in the configured region (explicit, environment or profile; never the instance
 * metadata service's), or at the global endpoint without one, as botocore does (`internal/sts.ts`).
 * The provenance ends with where the call went, e.g. `via STS us-east-1 (global endpoint, no
 * region configured)`.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { AwsCredentials } from "../AwsCredentials.js"
import { AwsSession, profileNamedExplicitly, type Service as Session } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as Env from "../internal/env.js"
import { readOptionalFile } from "../internal/files.js"
import { sourceLayer } from "../internal/provider.js"
import * as Sts from "../internal/sts.js"
import * as ProfileFile from "../ProfileFile.js"
import { secret } from "../internal/scrub.js"

const source = "assume-role-with-web-identity" satisfies Credentials.Source

/**
 * Tunables of the STS call.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long one STS attempt may take. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How many STS attempts at most (throttling, 5xx, timeouts, unreachable). Default 3. */
  readonly maxAttempts?: number | undefined
}

/**
 * A web identity configuration, with where each part came from (for messages and provenance).
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  readonly roleArn: string
  readonly tokenFile: string
  /** Absent: botocore's default, `botocore-session-<unix time>`. */
  readonly sessionName?: string | undefined
  /** The profile the settings belong to, if any. */
  readonly profile?: string | undefined
  /** Where the token file setting came from, e.g. `AWS_WEB_IDENTITY_TOKEN_FILE`. */
  readonly tokenFileFrom: string
  /** Where the session name came from, for the error when it is invalid. */
  readonly sessionNameFrom?: string | undefined
}

/**
 * Reads the token file (again at every call) and exchanges it for the role's credentials
 * through `settings`. A missing or empty file is `TokenMissing`; STS's refusals are
 * `ServiceError`s with the STS code (`InvalidIdentityToken`, `ExpiredTokenException`, ...).
 * Used by `AssumeRole` for a `web_identity_token_file` root; not part of the public API.
 *
 * @internal
 */
export const assumeWith = (
  settings: Sts.Settings,
  config: Config
): Effect.Effect<Credentials.Credentials, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fail = (reason: CredentialsError["reason"], detail: string) =>
      new CredentialsError({ source, reason, profile: config.profile, path: config.tokenFile, detail })
    let sessionName = config.sessionName
    if (sessionName !== undefined) {
      const problem = Sts.checkSessionName(sessionName)
      if (Option.isSome(problem)) {
        return yield* new CredentialsError({
          source,
          reason: "InvalidConfiguration",
          profile: config.profile,
          detail: `the role session name${
            config.sessionNameFrom === undefined ? "" : ` from ${config.sessionNameFrom}`
          } ${problem.value}`
        })
      }
    } else {
      sessionName = yield* Sts.defaultSessionName
    }
    const text = yield* readOptionalFile(config.tokenFile, { source, what: "web identity token file", kind: "token" })
    if (Option.isNone(text)) {
      return yield* fail(
        "TokenMissing",
        `the web identity token file (from ${config.tokenFileFrom}) does not exist; its issuer (the EKS pod identity ` +
          "webhook, the CI runner, ...) writes it"
      )
    }
    // JWTs hold no whitespace: a trailing newline from `echo` or an editor is not part of the token.
    const token = text.value.trim()
    if (token === "") {
      return yield* fail("TokenMissing", `the web identity token file (from ${config.tokenFileFrom}) is empty`)
    }
    const answer = yield* Sts.assumeRoleWithWebIdentity({
      source,
      profile: config.profile,
      settings,
      request: { roleArn: config.roleArn, roleSessionName: sessionName, webIdentityToken: secret(token) }
    })
    return Sts.toCredentials(
      answer,
      source,
      `assume-role-with-web-identity ${config.roleArn} with the token in ${config.tokenFile} (${config.tokenFileFrom})`
    )
  })

/** A setting from its environment variable (unless disabled), else from the profile. */
const lookup = (
  session: Session,
  useEnv: boolean,
  variable: string,
  key: string
): Effect.Effect<Option.Option<{ readonly value: string; readonly from: string }>> =>
  Effect.gen(function*() {
    if (useEnv) {
      const fromEnv = yield* Env.optional(variable)
      if (Option.isSome(fromEnv)) return Option.some({ value: fromEnv.value, from: variable })
    }
    return Option.flatMap(session.profile, (profile) =>
      Option.map(
        Option.filter(ProfileFile.property(profile, key), (p) => p.value !== ""),
        (p) => ({ value: p.value, from: `${key} in profile ${session.profileName} (${p.path}:${p.line})` })
      ))
  })

/**
 * The configuration of the session (environment, then active profile), or `None` when no token
 * file is configured.
 *
 * @since 0.1.0
 * @category resolution
 */
export const config: Effect.Effect<Option.Option<Config>, CredentialsError, AwsSession> = Effect.gen(function*() {
  const session = yield* AwsSession
  const useEnv = !profileNamedExplicitly(session)
  const tokenFile = yield* lookup(session, useEnv, "AWS_WEB_IDENTITY_TOKEN_FILE", "web_identity_token_file")
  if (Option.isNone(tokenFile)) return Option.none()
  const roleArn = yield* lookup(session, useEnv, "AWS_ROLE_ARN", "role_arn")
  if (Option.isNone(roleArn)) {
    return yield* new CredentialsError({
      source,
      reason: "InvalidConfiguration",
      profile: session.profileName,
      detail: `a web identity token file is configured (${tokenFile.value.from}) but no role ARN: set ${
        useEnv ? "AWS_ROLE_ARN or " : ""
      }role_arn in profile ${session.profileName}`
    })
  }
  const sessionName = yield* lookup(session, useEnv, "AWS_ROLE_SESSION_NAME", "role_session_name")
  return Option.some({
    roleArn: roleArn.value.value,
    tokenFile: tokenFile.value.value,
    sessionName: Option.getOrUndefined(Option.map(sessionName, (s) => s.value)),
    sessionNameFrom: Option.getOrUndefined(Option.map(sessionName, (s) => s.from)),
    profile: session.profileName,
    tokenFileFrom: tokenFile.value.from
  })
})

/**
 * Resolves web identity credentials for the session with these tunables.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolveWith = (
  options: Options = {}
): Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const session = yield* AwsSession
    const configured = yield* config
    if (Option.isNone(configured)) {
      return yield* new CredentialsUnavailable({
        source,
        reason: "NotConfigured",
 detail: profileNamedExplicitly(session)
          ? `profile ${session.profileName} has no web_identity_token_file (AWS_WEB_IDENTITY_TOKEN_FILE is ignored: ` +
            "the profile was named explicitly)"
          : `AWS_WEB_IDENTITY_TOKEN_FILE is not set and profile ${session.profileName} has no web_identity_token_file`
      })
    }
    const settings = yield* Sts.settings(source, options)
    const credentials = yield* assumeWith(settings, configured.value)
    return Credentials.withProvenance(credentials, `${credentials.provenance}, ${Sts.describeRoute(settings)}`)
  })

/**
 * Resolves web identity credentials with the default tunables.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve: Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem
> = resolveWith()

/**
 * The `assume-role-with-web-identity` source with its tunables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession | FileSystem.FileSystem> =>
  sourceLayer(source, resolveWith(options))

/**
 * The `assume-role-with-web-identity` source (10 s per STS attempt, 3 attempts).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem
> = layerWith({})
