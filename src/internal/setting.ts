/**
 * The one reader of "an environment variable, else a key of the active profile" (botocore's
 * config store order), with where the value came from, for messages and provenance. Empty
 * values count as unset on both sides.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ProfileFile from "../ProfileFile.js"
import * as Env from "./env.js"

export interface Setting {
  readonly value: string
  /** The variable it was read from, or the profile's property (with its file and line). */
  readonly origin:
    | { readonly _tag: "Env"; readonly variable: string }
    | { readonly _tag: "Profile"; readonly key: string; readonly profileName: string; readonly property: ProfileFile.Property }
  /** `AWS_ROLE_ARN`, or `role_arn in profile dev (/home/me/.aws/config:3)`. */
  readonly from: string
}

export interface Name {
  readonly variable: string
  readonly key: string
}

/**
 * The setting `name`: its variable (unless `useEnv` is false: a profile named in code or on the
 * command line ignores some variables, botocore's `disable_env_vars`), else the profile's key.
 */
export const read = (
  profile: Option.Option<ProfileFile.Section>,
  profileName: string,
  name: Name,
  useEnv = true
): Effect.Effect<Option.Option<Setting>> =>
  Effect.map(useEnv ? Env.optional(name.variable) : Effect.succeed(Option.none<string>()), (fromEnv) =>
    Option.isSome(fromEnv)
      ? Option.some<Setting>({
        value: fromEnv.value,
        origin: { _tag: "Env", variable: name.variable },
        from: name.variable
      })
      : Option.map(
        Option.flatMap(profile, (section) =>
          Option.filter(ProfileFile.property(section, name.key), (property) => property.value !== "")),
        (property): Setting => ({
          value: property.value,
          origin: { _tag: "Profile", key: name.key, profileName, property },
          from: `${name.key} in profile ${profileName} (${property.path}:${property.line})`
        })
      ))

/** A boolean setting, true when it says "true" in any case (botocore's `ensure_boolean`). */
export const isTrue = (setting: Option.Option<Setting>): boolean => Env.isTrue(Option.map(setting, (s) => s.value))
