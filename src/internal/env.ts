/**
 * Environment variables, read through effect's `Config` so that tests swap in
 * `ConfigProvider.fromMap`. An empty value counts as unset, as in botocore, and so does one of
 * only whitespace (` ` is never a key, a path or a region anyone meant).
 */
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as os from "node:os"

const isSet = (value: string): boolean => value.trim() !== ""

/** The provider every fiber has unless a test or a program installed another: `process.env`. */
const processEnvironment = Context.get(DefaultServices.liveServices, ConfigProvider.ConfigProvider)

const throughConfig = (name: string): Effect.Effect<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(
    Effect.map(Option.filter(isSet)),
    // A string config can only fail when the variable is absent, which `option` already covers;
    // anything else (a provider that throws) is treated as unset rather than as a crash.
    Effect.orElseSucceed(() => Option.none<string>())
  )

/**
 * One variable. Under the default provider it is read from `process.env` directly, which is what
 * that provider does for a one-segment name: going through `Config` costs some twenty times more,
 * and a session reads a dozen variables at every start. Any other provider (a test's
 * `ConfigProvider.fromMap`, a program's own) is asked through `Config`.
 */
export const optional = (name: string): Effect.Effect<Option.Option<string>> =>
  Effect.configProviderWith((provider) =>
    provider === processEnvironment
      ? Effect.sync(() => Option.filter(Option.fromNullable(process.env[name]), isSet))
      : throughConfig(name)
  )

/** The first of several variables that is set, with its name. */
export const firstOf = (
  names: ReadonlyArray<string>
): Effect.Effect<Option.Option<{ readonly name: string; readonly value: string }>> =>
  Effect.gen(function*() {
    for (const name of names) {
      const value = yield* optional(name)
      if (Option.isSome(value)) return Option.some({ name, value: value.value })
    }
    return Option.none()
  })

/** botocore's truthiness for boolean settings: "true" in any case. */
export const isTrue = (value: Option.Option<string>): boolean =>
  Option.match(value, { onNone: () => false, onSome: (v) => v.trim().toLowerCase() === "true" })

/**
 * The home directory: `HOME` when set, otherwise the account's home as the operating system
 * knows it (what Python's `expanduser` falls back to).
 */
export const homeDirectory: Effect.Effect<string> = Effect.map(
  optional("HOME"),
  Option.getOrElse(() => os.homedir())
)
