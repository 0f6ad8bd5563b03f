/**
 * `MfaTokenProvider`: where the `assume-role` source gets a one-time code when a profile has
 * `mfa_serial`. botocore prompts on the terminal with `getpass`; a library cannot know whether it
 * has a terminal, so the program provides the service: a prompt, a secrets manager, a hardware
 * token. Without one, such a profile fails with reason `MfaRequired`.
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { CredentialChain, MfaTokenProvider } from "effect-aws-credentials"
 *
 * const Mfa = MfaTokenProvider.layer(({ serialNumber }) =>
 *   Effect.promise(() => askUser(`MFA code for ${serialNumber}: `)))
 *
 * program.pipe(Effect.provide(CredentialChain.layerNode().pipe(Layer.provide(Mfa))))
 * ```
 *
 * The provider is asked again at every refresh of the role's credentials (botocore asks once
 * and then fails with `RefreshWithMFAUnsupportedError`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"

/**
 * What the provider is told about the code it must produce.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  /** The profile's `mfa_serial`: the MFA device's ARN or serial number. */
  readonly serialNumber: string
  /** The role being assumed. */
  readonly roleArn: string
  /** The profile that names the role. */
  readonly profile: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Produces the current code (six digits). A failure fails the credentials with `MfaRequired`. */
  readonly tokenCode: (request: Request) => Effect.Effect<string | Redacted.Redacted<string>, unknown>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class MfaTokenProvider extends Context.Tag("effect-aws-credentials/MfaTokenProvider")<
  MfaTokenProvider,
  Service
>() {}

/**
 * A provider from a function that produces the code.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E>(
  tokenCode: (request: Request) => Effect.Effect<string | Redacted.Redacted<string>, E>
): Layer.Layer<MfaTokenProvider> => Layer.succeed(MfaTokenProvider, { tokenCode })
