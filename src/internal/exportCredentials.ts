/**
 * `effect-aws-credentials export-credentials`: the one place that prints secrets, because the
 * user asked for them, in the formats of the AWS CLI v2's `aws configure export-credentials`
 * (awscli/customizations/configure/exportcreds.py): the `credential_process` JSON, or shell
 * variable lines.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { AwsCredentials } from "../AwsCredentials.js"
import * as CredentialChain from "../CredentialChain.js"
import type * as Credentials from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import type { ExportFormat } from "./cliArgs.js"

/**
 * The expiration as the CLI prints it: Python's `datetime.isoformat()` of an aware UTC time,
 * `2026-11-29T10:00:00+00:00`, with microseconds only when there are any.
 */
export const pythonIsoformat = (dateTime: DateTime.Utc): string => {
  const iso = DateTime.formatIso(dateTime) // 2026-11-29T10:00:00.000Z
  const [seconds, millis = "000"] = iso.slice(0, -1).split(".")
  return `${seconds}${millis === "000" ? "" : `.${millis}000`}+00:00`
}

/** The credentials in `format`, exactly as the AWS CLI prints them (ends with a newline). */
export const render = (credentials: Credentials.Credentials, format: ExportFormat): string => {
  const token = Option.map(credentials.sessionToken, Redacted.value)
  const expiration = Option.map(credentials.expiration, pythonIsoformat)
  if (format === "process" || format === "json") {
    const document: Record<string, string | number> = {
      Version: 1,
      AccessKeyId: credentials.accessKeyId,
      SecretAccessKey: Redacted.value(credentials.secretAccessKey)
    }
    if (Option.isSome(token)) document.SessionToken = token.value
    if (Option.isSome(expiration)) document.Expiration = expiration.value
    // json.dumps(indent=2, separators=(",", ": ")), then a newline.
    return `${JSON.stringify(document, null, 2)}\n`
  }
  const prefix = format === "env" ? "export " : ""
  const lines: Array<[string, string]> = [
    ["AWS_ACCESS_KEY_ID", credentials.accessKeyId],
    ["AWS_SECRET_ACCESS_KEY", Redacted.value(credentials.secretAccessKey)]
  ]
  if (Option.isSome(token)) lines.push(["AWS_SESSION_TOKEN", token.value])
  if (Option.isSome(expiration)) lines.push(["AWS_CREDENTIAL_EXPIRATION", expiration.value])
  return lines.map(([name, value]) => `${prefix}${name}=${value}\n`).join("")
}

/**
 * The environment variable that carries the profiles being exported by the processes above
 * this one (comma-separated), so that a `credential_process` that runs this command for its own
 * profile fails at once instead of starting itself forever (the AWS CLI's
 * `_AWS_CLI_PROFILE_CHAIN`, with the same limit of 4).
 */
export const recursionVariable = "_EFFECT_AWS_CREDENTIALS_PROFILE_CHAIN"
const maxRecursion = 4

/**
 * Checks the recursion barrier for `profile` and returns the value to pass on to children.
 */
export const recursionBarrier = (
  profile: string,
  inherited: string | undefined
): Effect.Effect<string, CredentialsError> => {
  const seen = inherited === undefined || inherited === "" ? [] : inherited.split(",")
  if (seen.length >= maxRecursion || seen.includes(profile)) {
    return Effect.fail(
      new CredentialsError({
        reason: "InvalidConfiguration",
        profile,
        detail: seen.includes(profile)
          ? `export-credentials runs itself for the profile ${profile}: ${[...seen, profile].join(" -> ")}; ` +
            "name another profile in the credential_process command"
          : `export-credentials nested more than ${maxRecursion} times: ${seen.join(" -> ")}`
      })
    )
  }
  return Effect.succeed([...seen, profile].join(","))
}

/**
 * Resolves the default chain for `options` as an application would (`CredentialChain.layerNode`)
 * and returns the credentials, secrets included.
 */
export const resolve = (options: { readonly profile?: string | undefined; readonly region?: string | undefined }) =>
  Effect.flatMap(AwsCredentials, (service) => service.get).pipe(Effect.provide(CredentialChain.layerNode(options)))
