/**
 * A profile resolved into a plan: one root that produces credentials on its own, followed by
 * the roles to assume with them, innermost first (the shape of the cross-SDK
 * `assume-role-tests.json` vectors' `ProfileChain`).
 *
 * ```ini
 * [profile dev]            ; AssumeRole arn:...:role/Dev      (second step)
 * role_arn = arn:aws:iam::111111111111:role/Dev
 * source_profile = ops
 * [profile ops]            ; AssumeRole arn:...:role/Ops      (first step)
 * role_arn = arn:aws:iam::222222222222:role/Ops
 * source_profile = base
 * [profile base]           ; root: AccessKey
 * aws_access_key_id = ...
 * ```
 *
 * Rules (the vectors', and botocore's `AssumeRoleProvider` where the vectors are silent):
 * - A profile with `role_arn` (and no `web_identity_token_file`) is a role step; it needs exactly
 *   one of `source_profile` and `credential_source` (`Environment`, `Ec2InstanceMetadata`,
 *   `EcsContainer`, spelled exactly so).
 * - A source profile (any profile after the first) with static keys is a root, even when it has a
 *   `role_arn` of its own; its keys win. The first profile's static keys are ignored when it has
 *   `role_arn` and `source_profile`.
 * - A profile may be its own `source_profile` if it has static keys (they are the root); any
 *   other revisit is a cycle, reported with its path (`A -> B -> A`).
 * - A root profile is, in botocore's order: web identity (`role_arn` + `web_identity_token_file`),
 *   SSO, static keys written in the credentials file, `login_session`, `credential_process`,
 *   static keys written in the config file.
 *
 * Pure: it reads a `ProfileSet`, never the environment or the network.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import type * as ProfileFile from "../ProfileFile.js"
import { hasSsoKeys, ssoSettingsOf } from "./profileSso.js"
import { boundedList } from "./scrub.js"

const source = "assume-role" satisfies Credentials.Source

/** Where a setting was written. */
export interface Origin {
  readonly path: string
  readonly line: number
}

/** The named sources `credential_source` may take (botocore's canonical names). */
export type NamedSource = "Environment" | "Ec2InstanceMetadata" | "EcsContainer"

export const namedSources: ReadonlyArray<NamedSource> = ["Environment", "Ec2InstanceMetadata", "EcsContainer"]

/** What produces the first credentials of a chain. */
export type Root =
  | {
    readonly _tag: "AccessKey"
    readonly profile: string
    readonly accessKeyId: string
    readonly secretAccessKey: Redacted.Redacted<string>
    readonly sessionToken: Redacted.Redacted<string> | undefined
    readonly accountId: string | undefined
    /** `shared-credentials-file` or `config-file`, by the file the access key is written in. */
    readonly label: "shared-credentials-file" | "config-file"
    readonly origin: Origin
  }
  | {
    readonly _tag: "NamedSource"
    readonly profile: string
    readonly name: NamedSource
    readonly origin: Origin
  }
  | {
    readonly _tag: "WebIdentity"
    readonly profile: string
    readonly roleArn: string
    readonly tokenFile: string
    readonly sessionName: string | undefined
    readonly origin: Origin
  }
  | {
    readonly _tag: "Sso"
    readonly profile: string
    readonly ssoSession: string | undefined
    readonly ssoRegion: string
    readonly ssoStartUrl: string
    readonly ssoAccountId: string | undefined
    readonly ssoRoleName: string | undefined
  }
  | {
    readonly _tag: "Login"
    readonly profile: string
    readonly loginSession: string
    readonly origin: Origin
  }
  | {
    readonly _tag: "Process"
    readonly profile: string
    readonly command: string
    readonly origin: Origin
  }

/** One role to assume, with the settings of the profile that names it. */
export interface RoleStep {
  readonly profile: string
  readonly roleArn: string
  readonly externalId: string | undefined
  readonly sessionName: string | undefined
  /** As written; the executor parses it (botocore ignores a value that is not an integer). */
  readonly durationSeconds: string | undefined
  readonly mfaSerial: string | undefined
  readonly origin: Origin
}

export interface Plan {
  readonly root: Root
  /** Innermost first: `roles[0]` is assumed with the root's credentials. */
  readonly roles: ReadonlyArray<RoleStep>
  /** The profiles visited, selected first. */
  readonly path: ReadonlyArray<string>
}

/** Why a profile does not resolve into a plan: nothing there (unavailable), or broken. */
export type PlanError = CredentialsUnavailable | CredentialsError

export interface ResolveOptions {
  readonly profiles: ProfileFile.ProfileSet
  readonly selected: string
  /** The credentials file's path, to label static keys by the file they are written in. */
  readonly credentialsFile?: string | undefined
}

const get = (section: ProfileFile.Section, key: string): Option.Option<ProfileFile.Property> =>
  Option.filter(Option.fromNullable(section.properties.get(key)), (p) => p.value !== "")

const valueOf = (section: ProfileFile.Section, key: string): string | undefined =>
  Option.getOrUndefined(Option.map(get(section, key), (p) => p.value))

const originOf = (property: ProfileFile.Property): Origin => ({ path: property.path, line: property.line })

const error = (profile: string, reason: CredentialsError["reason"], detail: string, origin?: Origin) =>
  new CredentialsError({
    source,
    reason,
    profile,
    detail,
    ...(origin === undefined ? {} : { path: origin.path, line: origin.line })
  })

const hasStaticKeys = (section: ProfileFile.Section): boolean =>
  Option.isSome(get(section, "aws_access_key_id")) || Option.isSome(get(section, "aws_secret_access_key"))

/** A profile's static keys as written; empty values count as unset. */
export interface StaticKeys {
  readonly accessKey: Option.Option<ProfileFile.Property>
  readonly secret: Option.Option<ProfileFile.Property>
  /** `aws_session_token`, else the legacy `aws_security_token`. */
  readonly token: Option.Option<ProfileFile.Property>
  readonly accountId: Option.Option<ProfileFile.Property>
}

/**
 * The static keys of a profile: in the merged view, or with `path` what that one file gives
 * each key, even where the other file overrides it (botocore reads each file on its own for the
 * `shared-credentials-file` and `config-file` sources).
 */
export const staticKeysOf = (section: ProfileFile.Section, path?: string): StaticKeys => {
  const read = (key: string): Option.Option<ProfileFile.Property> => {
    let property = section.properties.get(key)
    while (path !== undefined && property !== undefined && property.path !== path) property = property.overridden
    return property !== undefined && property.value !== "" ? Option.some(property) : Option.none()
  }
  return {
    accessKey: read("aws_access_key_id"),
    secret: read("aws_secret_access_key"),
    token: Option.orElse(read("aws_session_token"), () => read("aws_security_token")),
    accountId: read("aws_account_id")
  }
}

/** The profile's static keys; either key alone is `PartialCredentials`. */
const staticRoot = (
  name: string,
  section: ProfileFile.Section,
  credentialsFile: string | undefined
): Either.Either<Root, CredentialsError> => {
  const { accessKey, accountId, secret, token } = staticKeysOf(section)
  if (Option.isNone(accessKey)) {
    return Either.left(error(
      name,
      "PartialCredentials",
      "aws_secret_access_key is set but aws_access_key_id is missing",
      Option.getOrUndefined(Option.map(secret, originOf))
    ))
  }
  if (Option.isNone(secret)) {
    return Either.left(error(
      name,
      "PartialCredentials",
      "aws_access_key_id is set but aws_secret_access_key is missing",
      originOf(accessKey.value)
    ))
  }
  return Either.right({
    _tag: "AccessKey",
    profile: name,
    accessKeyId: accessKey.value.value,
    secretAccessKey: Redacted.make(secret.value.value),
    sessionToken: Option.getOrUndefined(Option.map(token, (t) => Redacted.make(t.value))),
    accountId: Option.getOrUndefined(Option.map(accountId, (a) => a.value)),
    label: credentialsFile !== undefined && accessKey.value.path === credentialsFile
      ? "shared-credentials-file"
      : "config-file",
    origin: originOf(accessKey.value)
  })
}

/** An SSO root, with the settings checked once for every SSO consumer (`profileSso.ts`). */
const ssoRoot = (
  profiles: ProfileFile.ProfileSet,
  name: string,
  section: ProfileFile.Section
): Option.Option<Either.Either<Root, CredentialsError>> =>
  hasSsoKeys(section)
    ? Option.some(Either.map(ssoSettingsOf(profiles, name, section, source), (settings): Root => ({
      _tag: "Sso",
      profile: name,
      ssoSession: settings.sessionName,
      ssoRegion: settings.region,
      ssoStartUrl: settings.startUrl,
      ssoAccountId: settings.accountId,
      ssoRoleName: settings.roleName
    })))
    : Option.none()

/**
 * What gives a profile credentials without a role step, in botocore's provider order. `None`
 * when the profile has no credential configuration at all.
 */
const rootOf = (
  options: ResolveOptions,
  name: string,
  section: ProfileFile.Section
): Option.Option<Either.Either<Root, CredentialsError>> => {
  const tokenFile = get(section, "web_identity_token_file")
  if (Option.isSome(tokenFile)) {
    const roleArn = valueOf(section, "role_arn")
    return Option.some(
      roleArn === undefined
        ? Either.left(error(
          name,
          "InvalidConfiguration",
          "`web_identity_token_file` is set but `role_arn` was missing: add role_arn to the profile",
          originOf(tokenFile.value)
        ))
        : Either.right({
          _tag: "WebIdentity",
          profile: name,
          roleArn,
          tokenFile: tokenFile.value.value,
          sessionName: valueOf(section, "role_session_name"),
          origin: originOf(tokenFile.value)
        })
    )
  }
  const sso = ssoRoot(options.profiles, name, section)
  if (Option.isSome(sso)) return sso

  const accessKey = get(section, "aws_access_key_id")
  const keysInCredentialsFile = Option.isSome(accessKey) && options.credentialsFile !== undefined &&
    accessKey.value.path === options.credentialsFile
  if (keysInCredentialsFile) return Option.some(staticRoot(name, section, options.credentialsFile))

  const login = get(section, "login_session")
  if (Option.isSome(login)) {
    return Option.some(Either.right({
      _tag: "Login",
      profile: name,
      loginSession: login.value.value,
      origin: originOf(login.value)
    }))
  }
  const process = get(section, "credential_process")
  if (Option.isSome(process) && process.value.value.trim() !== "") {
    return Option.some(Either.right({
      _tag: "Process",
      profile: name,
      command: process.value.value,
      origin: originOf(process.value)
    }))
  }
  if (hasStaticKeys(section)) return Option.some(staticRoot(name, section, options.credentialsFile))
  return Option.none()
}

/** The role step of a profile with `role_arn` (and no `web_identity_token_file`). */
const roleOf = (name: string, section: ProfileFile.Section): Option.Option<RoleStep> => {
  if (Option.isSome(get(section, "web_identity_token_file"))) return Option.none()
  return Option.map(get(section, "role_arn"), (roleArn) => ({
    profile: name,
    roleArn: roleArn.value,
    externalId: valueOf(section, "external_id"),
    sessionName: valueOf(section, "role_session_name"),
    durationSeconds: valueOf(section, "duration_seconds"),
    mfaSerial: valueOf(section, "mfa_serial"),
    origin: originOf(roleArn)
  }))
}

/** Whether a profile is a role step (what the `assume-role` source looks for). */
export const isRoleProfile = (section: ProfileFile.Section): boolean => Option.isSome(roleOf(section.name, section))

const known = (profiles: ProfileFile.ProfileSet): string => {
  const names = [...profiles.profiles.keys()].sort()
  return names.length === 0 ? "no profiles are defined" : `profiles defined: ${boundedList(names)}`
}

/**
 * Resolves the selected profile into a plan. A selected profile without any credential
 * configuration is `CredentialsUnavailable`; everything else that does not resolve is a
 * `CredentialsError` naming the profile, file and line.
 */
export const resolve = (options: ResolveOptions): Either.Either<Plan, PlanError> => {
  const { profiles, selected } = options
  if (profiles.profiles.size === 0) {
    return Either.left(error(selected, "ProfileNotFound", `No profiles were defined (looking for profile ${selected})`))
  }
  const visited: Array<string> = []
  const roles: Array<RoleStep> = []
  let name = selected
  const done = (root: Root): Either.Either<Plan, PlanError> =>
    Either.right({ root, roles: roles.reverse(), path: visited })

  for (;;) {
    const section = profiles.profiles.get(name)
    const referrer = visited[visited.length - 1]
    if (section === undefined) {
      return Either.left(
        referrer === undefined
          ? error(name, "ProfileNotFound", `the profile ${name} is not defined; ${known(profiles)}`)
          : error(
            referrer,
            "ProfileNotFound",
            `could not find source profile ${name} referenced from ${referrer}; ${known(profiles)}`,
            Option.getOrUndefined(
              Option.map(Option.flatMap(Option.fromNullable(profiles.profiles.get(referrer)), (s) =>
                get(s, "source_profile")), originOf)
            )
          )
      )
    }
    if (visited.includes(name)) {
      return Either.left(error(
        selected,
        "InfiniteLoop",
        `source_profile cycle ${[...visited, name].join(" -> ")}: the profile formed an infinite loop`
      ))
    }
    visited.push(name)
    const isSource = visited.length > 1

    const role = roleOf(name, section)
    // A source profile's own keys win over its role; so does any profile without a role.
    if (Option.isNone(role) || (isSource && hasStaticKeys(section))) {
      const root = rootOf(options, name, section)
      if (Option.isNone(root)) {
        return Either.left(
          isSource
            ? error(
              referrer ?? name,
              "InvalidConfiguration",
              `the source profile ${name} (referenced from ${referrer}) did not contain credential information: ` +
                "give it static keys, a role, credential_process, SSO or web identity settings"
            )
            : new CredentialsUnavailable({
              source,
              reason: "NotConfigured",
 detail: `profile \`${name}\` did not contain credential information`
            })
        )
      }
      return Either.flatMap(root.value, done)
    }

    const step = role.value
    const sourceProfile = get(section, "source_profile")
    const credentialSource = get(section, "credential_source")
    if (Option.isSome(sourceProfile) && Option.isSome(credentialSource)) {
      return Either.left(error(
        name,
        "InvalidConfiguration",
        "profile contained both source_profile and credential_source; only one or the other can be defined",
        originOf(credentialSource.value)
      ))
    }
    if (Option.isSome(credentialSource)) {
      const named = namedSources.find((n) => n === credentialSource.value.value)
      if (named === undefined) {
        return Either.left(error(
          name,
          "InvalidConfiguration",
          `credential_source = ${credentialSource.value.value} is not valid: use one of ${namedSources.join(", ")}`,
          originOf(credentialSource.value)
        ))
      }
      roles.push(step)
      return done({ _tag: "NamedSource", profile: name, name: named, origin: originOf(credentialSource.value) })
    }
    if (Option.isNone(sourceProfile)) {
      return Either.left(error(
        name,
        "InvalidConfiguration",
        "role_arn is set, so the profile must contain `source_profile` or `credential_source`, and neither is defined",
        step.origin
      ))
    }
    roles.push(step)
    if (sourceProfile.value.value === name) {
      // botocore allows a profile to be its own source only for its static keys.
      if (!hasStaticKeys(section)) {
        return Either.left(error(
          selected,
          "InfiniteLoop",
          `source_profile cycle ${[...visited, name].join(" -> ")}: a profile may name itself as source_profile ` +
            "only when it has static keys"
        ))
      }
      return Either.flatMap(
        Option.getOrElse(rootOf(options, name, section), () => staticRoot(name, section, options.credentialsFile)),
        done
      )
    }
    name = sourceProfile.value.value
  }
}
