/**
 * The `login` source's fetch for a named profile: its `login_session`, the cache file the AWS
 * CLI keeps for it, the region for the sign-in service, and the refresh (`login.ts`).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Service as Session } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as ProfileFile from "../ProfileFile.js"
import * as ConfiguredEndpoint from "./configuredEndpoint.js"
import * as Env from "./env.js"
import * as Internal from "./login.js"
import * as Region from "./region.js"
import * as TokenCache from "./tokenCache.js"

const source = "login" satisfies Credentials.Source

/** The `login` source's tunables, defaults applied (see `Login.Options`). */
export interface Settings {
  readonly timeout: Duration.Duration
  readonly maxAttempts: number
  readonly refreshThreshold: Duration.Duration
}

export const defaults: Settings = {
  timeout: Duration.seconds(10),
  maxAttempts: 3,
  refreshThreshold: Duration.minutes(5)
}

/** Settings from the options a user gave. */
export const settingsOf = (options: {
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxAttempts?: number | undefined
  readonly refreshThreshold?: Duration.DurationInput | undefined
}): Settings => ({
  timeout: Duration.decode(options.timeout ?? defaults.timeout),
  maxAttempts: Math.max(1, Math.floor(options.maxAttempts ?? defaults.maxAttempts)),
  refreshThreshold: Duration.decode(options.refreshThreshold ?? defaults.refreshThreshold)
})

/**
 * The credentials of a named profile's `aws login` session (the active profile for the `login`
 * source, a source profile for assume-role). Reads the cache at every call.
 */
export const fetchCredentials = (
  request: { readonly session: Session; readonly profileName: string },
  settings: Settings = defaults
): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const { profileName, session } = request
    const profile = session.profiles.profiles.get(profileName)
    if (profile === undefined) {
      return yield* new CredentialsUnavailable({ source, reason: "NotConfigured",
 detail: `profile ${profileName} is not defined` })
    }
    const loginSession = ProfileFile.property(profile, "login_session")
    if (Option.isNone(loginSession)) {
      return yield* new CredentialsUnavailable({ source, reason: "NotConfigured",
 detail: `profile ${profileName} has no login_session` })
    }
    if (loginSession.value.value === "") {
      return yield* new CredentialsError({
        source,
        reason: "InvalidConfiguration",
        profile: profileName,
        path: loginSession.value.path,
        line: loginSession.value.line,
        detail: `login_session is empty; run \`aws login --profile ${profileName}\``
      })
    }
    const home = yield* Option.match(session.home, { onNone: () => Env.homeDirectory, onSome: Effect.succeed })
    return yield* Internal.resolve({
      profileName,
      loginSession: loginSession.value.value,
      path: yield* TokenCache.loginCachePath(home, loginSession.value.value),
      // The sign-in region when the cache does not name one: the login profile's before the active one's.
      region: yield* Region.configured(session, profile),
      signinSettings: ConfiguredEndpoint.resolve({
        session,
        profileName: session.profileName,
        service: ConfiguredEndpoint.services.signin,
        source
      }),
      policy: { timeout: settings.timeout, attempts: settings.maxAttempts },
      refreshThreshold: settings.refreshThreshold
    })
  })
