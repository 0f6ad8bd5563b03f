/**
 * Credentials from the active profile's `credential_process` (botocore's `custom-process`):
 * the command is split like a POSIX shell would (no shell runs it), its standard output must be
 * version 1 JSON, and it is run again before expiring credentials expire.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { AwsCredentials } from "../AwsCredentials.js"
import { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import { type CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { sourceLayer } from "../internal/provider.js"
import * as ProfileFile from "../ProfileFile.js"
import * as Runner from "../internal/processRunner.js"

const source = "custom-process" satisfies Credentials.Source

/**
 * Tunables of the `custom-process` source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long the process may run before it is killed. Default 60 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** The most standard output (and, separately, standard error) read from it. Default 1 MiB. */
  readonly maxOutputBytes?: number | undefined
}

/**
 * The defaults of `Options`.
 *
 * @since 0.1.0
 * @category models
 */
export const defaults: { readonly timeout: Duration.Duration; readonly maxOutputBytes: number } = {
  timeout: Duration.seconds(60),
  maxOutputBytes: 1024 * 1024
}

/**
 * Runs a credential process and turns its output into credentials: the command is split like
 * a POSIX shell would (no shell runs it); non-zero exit, timeout, output that is not version 1
 * JSON or too large are `CredentialsError`s whose message has the exit code and bounded stderr,
 * never stdout.
 *
 * @since 0.1.0
 * @category resolution
 */
export const run = (options: {
  readonly command: string
  readonly profile: string
  readonly path?: string | undefined
  readonly line?: number | undefined
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxOutputBytes?: number | undefined
}): Effect.Effect<Credentials.Credentials, CredentialsError, CommandExecutor.CommandExecutor> =>
  Runner.run({
    ...options,
    timeout: options.timeout ?? defaults.timeout,
    maxOutputBytes: options.maxOutputBytes ?? defaults.maxOutputBytes
  })

/**
 * Resolves `credential_process` of the session's profile.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve = (
  options: Options = {}
): Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const session = yield* AwsSession
    const property = Option.flatMap(session.profile, (profile) => ProfileFile.property(profile, "credential_process"))
    if (Option.isNone(property) || property.value.value.trim() === "") {
      return yield* new CredentialsUnavailable({
        source,
        reason: "NotConfigured",
 detail: Option.isNone(session.profile)
          ? `profile ${session.profileName} is not defined`
          : `profile ${session.profileName} has no credential_process`
      })
    }
    return yield* run({
      command: property.value.value,
      profile: session.profileName,
      path: property.value.path,
      line: property.value.line,
      timeout: options.timeout,
      maxOutputBytes: options.maxOutputBytes
    })
  })

/**
 * The `custom-process` source with its tunables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | CommandExecutor.CommandExecutor
> => sourceLayer(source, resolve(options))

/**
 * The `custom-process` source with the default timeout (60 s).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | CommandExecutor.CommandExecutor
> = layerWith({})
