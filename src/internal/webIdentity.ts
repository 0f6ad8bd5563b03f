/**
 * The web identity fetch: a token file exchanged for a role's credentials with an unsigned
 * `AssumeRoleWithWebIdentity` (the token file read again at every call, since its issuer rotates
 * it), and the session's configuration (environment first, then the active profile; see
 * `WebIdentity` for the table).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AwsSession, profileNamedExplicitly, type Service as Session } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { readOptionalFile } from "./files.js"
import { secret } from "./scrub.js"
import * as Setting from "./setting.js"
import * as Sts from "./sts.js"

const source = "assume-role-with-web-identity" satisfies Credentials.Source

/** A web identity configuration, with where each part came from (for messages and provenance). */
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
 * Also assume-role's fetch for a `web_identity_token_file` root.
 */
export const fetchWithToken = (
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

/** A setting from its environment variable (unless disabled), else from the active profile. */
const lookup = (session: Session, useEnv: boolean, variable: string, key: string) =>
  Setting.read(session.profile, session.profileName, { variable, key }, useEnv)

/**
 * The configuration of the session (environment, then active profile), or `None` when no token
 * file is configured.
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

/** The `assume-role-with-web-identity` source's fetch: the session's configuration, then STS. */
export const fetchCredentials = (
  options: Sts.CallOptions
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
    const credentials = yield* fetchWithToken(settings, configured.value)
    return Credentials.withProvenance(credentials, `${credentials.provenance}, ${Sts.describeRoute(settings)}`)
  })
