/**
 * A profile's IAM Identity Center settings, read once for every source that needs them (the
 * `sso` source, an SSO source profile at the root of an assume-role chain, the SSO token):
 *
 * - With `sso_session`, the `[sso-session NAME]` section must exist, and `sso_start_url` and
 *   `sso_region` come from it: a profile that sets one of them too must say the same, and must
 *   not set one the section leaves out (botocore's token provider reads them from the section
 *   only; the cross-SDK vectors reject them). Any other key both set must agree (botocore).
 * - Without it (legacy), the profile itself has `sso_start_url` and `sso_region`.
 * - `sso_account_id` and `sso_role_name` come together; a profile with neither only names a
 *   token (the `sso` credential source does not apply to it).
 *
 * Pure: it reads a `ProfileSet`. Errors name the profile and the file and line.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Credentials from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import type * as ProfileFile from "../ProfileFile.js"
import { boundedList } from "./scrub.js"

export interface SsoSettings {
  readonly profileName: string
  /** The `[sso-session]` name; `undefined` for a legacy profile. */
  readonly sessionName: string | undefined
  readonly startUrl: string
  readonly region: string
  /** Both or neither. */
  readonly accountId: string | undefined
  readonly roleName: string | undefined
}

const ssoKeys = ["sso_account_id", "sso_region", "sso_role_name", "sso_start_url", "sso_session"] as const

const valueOf = (section: ProfileFile.Section, key: string): Option.Option<ProfileFile.Property> =>
  Option.filter(Option.fromNullable(section.properties.get(key)), (p) => p.value !== "")

/** Whether the profile has any IAM Identity Center key. */
export const hasSsoKeys = (section: ProfileFile.Section): boolean =>
  ssoKeys.some((key) => Option.isSome(valueOf(section, key)))

/** Whether the profile names a role to get credentials for (the `sso` source's condition). */
export const namesSsoRole = (section: ProfileFile.Section): boolean =>
  section.properties.has("sso_account_id") || section.properties.has("sso_role_name")

/** The keys that apply to the profile: its own, with the `[sso-session]` section's merged in. */
const mergeSession = (
  profiles: ProfileFile.ProfileSet,
  section: ProfileFile.Section,
  invalid: (detail: string, at?: ProfileFile.Property) => CredentialsError
): Either.Either<{ readonly keys: ReadonlyMap<string, ProfileFile.Property>; readonly sessionName: string | undefined }, CredentialsError> => {
  const keys = new Map(section.properties)
  const reference = section.properties.get("sso_session")
  if (reference === undefined) return Either.right({ keys, sessionName: undefined })
  if (reference.value === "") return Either.left(invalid("sso_session is empty; name an [sso-session NAME] section", reference))
  const session = profiles.ssoSessions.get(reference.value)
  if (session === undefined) {
    const known = [...profiles.ssoSessions.keys()].sort()
    return Either.left(invalid(
      `sso_session = ${reference.value} names an [sso-session ${reference.value}] section that is not in the config ` +
        `file${known.length === 0 ? "" : ` (sso-sessions defined: ${boundedList(known)})`}`,
      reference
    ))
  }
  for (const [key, fromSession] of session.properties) {
    const own = keys.get(key)
    if (own !== undefined && own.value !== fromSession.value) {
      return Either.left(invalid(
        `${key} is "${own.value}" in the profile but "${fromSession.value}" in [sso-session ${session.name}] ` +
          `(${fromSession.path}:${fromSession.line}); remove it from the profile or make them match`,
        own
      ))
    }
    keys.set(key, fromSession)
  }
  for (const key of ["sso_start_url", "sso_region"]) {
    const own = valueOf(section, key)
    if (Option.isSome(own) && !session.properties.has(key)) {
      return Either.left(invalid(
        `${key} is set in the profile, but with sso_session it can only be specified in the [sso-session] config: ` +
          `move it to [sso-session ${session.name}]`,
        own.value
      ))
    }
  }
  return Either.right({ keys, sessionName: reference.value })
}

/**
 * The profile's SSO settings, checked (see the module comment); `source` is the source the
 * errors are reported by.
 */
export const ssoSettingsOf = (
  profiles: ProfileFile.ProfileSet,
  profileName: string,
  section: ProfileFile.Section,
  source: Credentials.Source
): Either.Either<SsoSettings, CredentialsError> => {
  const invalid = (detail: string, at?: ProfileFile.Property) =>
    new CredentialsError({
      source,
      reason: "InvalidConfiguration",
      profile: profileName,
      path: at?.path,
      line: at?.line,
      detail
    })
  return Either.flatMap(mergeSession(profiles, section, invalid), ({ keys, sessionName }) => {
    const value = (key: string) => {
      const property = keys.get(key)
      return property === undefined || property.value === "" ? undefined : property.value
    }
    const role = value("sso_account_id") !== undefined || value("sso_role_name") !== undefined
    const required = ["sso_start_url", "sso_region", ...(role ? ["sso_account_id", "sso_role_name"] : [])]
    const missing = required.filter((key) => value(key) === undefined)
    if (missing.length > 0) {
      const present = ["sso_account_id", "sso_role_name"].filter((key) => value(key) !== undefined)
      return Either.left(invalid(
        `the profile is configured for IAM Identity Center${present.length === 0 ? "" : ` (${present.join(", ")})`} ` +
          `but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing or empty${
            sessionName === undefined
              ? " (set them in the profile, or name an [sso-session] with sso_session)"
              : ` (sso_start_url and sso_region belong in [sso-session ${sessionName}])`
          }`,
        keys.get("sso_account_id") ?? keys.get("sso_role_name") ?? keys.get("sso_session") ??
          keys.get("sso_start_url") ?? keys.get("sso_region")
      ))
    }
    return Either.right({
      profileName,
      sessionName,
      startUrl: value("sso_start_url")!,
      region: value("sso_region")!,
      accountId: value("sso_account_id"),
      roleName: value("sso_role_name")
    })
  })
}
