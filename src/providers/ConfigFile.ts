/**
 * Static keys of the active profile in the config file (`~/.aws/config` or `AWS_CONFIG_FILE`);
 * botocore's `config-file`, which the chain tries after `custom-process`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { AwsCredentials } from "../AwsCredentials.js"
import { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import { type CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { keysFromProfile } from "../internal/profileKeys.js"
import { sourceLayer } from "../internal/provider.js"

const source = "config-file" satisfies Credentials.Source

/**
 * Resolves the keys of the session's profile, written in the config file.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve: Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession
> = Effect.gen(function*() {
  const session = yield* AwsSession
  const file = session.configFile
  if (file.path === undefined || !file.exists) {
    return yield* new CredentialsUnavailable({
      source,
      reason: `no config file${file.path === undefined ? "" : ` at ${file.path}`}`
    })
  }
  if (Option.isNone(session.profile)) {
    return yield* new CredentialsUnavailable({
      source,
      reason: `profile ${session.profileName} is not defined in ${file.path}`
    })
  }
  return yield* keysFromProfile({
    source,
    profileName: session.profileName,
    section: session.profile.value,
    path: file.path,
    fileLabel: "config file"
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession> =
  sourceLayer(source, resolve)
