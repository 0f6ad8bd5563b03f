/**
 * Static keys in a profile (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`
 * or the legacy `aws_security_token`, `aws_account_id`), taken from one of the two files only,
 * because botocore labels them by file: `shared-credentials-file` or `config-file`.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AwsSession, type Service as Session } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import type * as ProfileFile from "../ProfileFile.js"
import { staticKeysOf } from "./profileChain.js"

export const keysFromProfile = (options: {
  readonly source: Credentials.Source
  readonly profileName: string
  readonly section: ProfileFile.Section
  /** Only properties written in this file count. */
  readonly path: string
  readonly fileLabel: string
}): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError> =>
  Effect.suspend((): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError> => {
    const { path, profileName, section, source } = options
    const inFile = (property: ProfileFile.Property): boolean =>
      property.path === path || (property.overridden !== undefined && inFile(property.overridden))
    const { accessKey, accountId, secret, token } = staticKeysOf(section, path)
    if (Option.isNone(accessKey)) {
      return Effect.fail(
        new CredentialsUnavailable({
          source,
          reason: "NotConfigured",
 detail: Option.isSome(secret)
            ? `profile ${profileName} in ${path} has aws_secret_access_key but no aws_access_key_id; skipped`
            : [...section.properties.values()].some(inFile)
            ? `profile ${profileName} has no aws_access_key_id in the ${options.fileLabel} ${path}`
            : `profile ${profileName} is not in the ${options.fileLabel} ${path}`
        })
      )
    }
    if (Option.isNone(secret)) {
      return Effect.fail(
        new CredentialsError({
          source,
          reason: "PartialCredentials",
          profile: profileName,
          path,
          line: accessKey.value.line,
          detail: "aws_access_key_id is set but aws_secret_access_key is missing"
        })
      )
    }
    return Effect.succeed(Credentials.make({
      accessKeyId: accessKey.value.value,
      secretAccessKey: secret.value.value,
      sessionToken: Option.getOrUndefined(Option.map(token, (t) => t.value)),
      accountId: Option.getOrUndefined(Option.map(accountId, (a) => a.value)),
      source,
      provenance: `profile ${profileName} in ${path}:${accessKey.value.line}`
    }))
  })

/**
 * The fetch of a file-keys source (`shared-credentials-file`, `config-file`): the file must
 * exist and hold the active profile, then its keys are read from that file only.
 */
export const keysFromFile = (options: {
  readonly source: Credentials.Source
  readonly file: (session: Session) => ProfileFile.FileInfo
  readonly fileLabel: string
}): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, AwsSession> =>
  Effect.gen(function*() {
    const { fileLabel, source } = options
    const session = yield* AwsSession
    const file = options.file(session)
    if (file.path === undefined || !file.exists) {
      return yield* new CredentialsUnavailable({
        source,
        reason: "NotConfigured",
 detail: `no ${fileLabel}${file.path === undefined ? "" : ` at ${file.path}`}`
      })
    }
    if (Option.isNone(session.profile)) {
      return yield* new CredentialsUnavailable({
        source,
        reason: "NotConfigured",
 detail: `profile ${session.profileName} is not defined in ${file.path}`
      })
    }
    return yield* keysFromProfile({
      source,
      profileName: session.profileName,
      section: session.profile.value,
      path: file.path,
      fileLabel
    })
  })
