/**
 * Roles assumed in code (`AssumeRole.layerFromArn`): the options checked once, when the layer is
 * built, then a fetch that takes the parent's credentials from the `AwsCredentials` service it is
 * given (afresh at every refresh: the parent's own engine keeps them current) and calls STS
 * `AssumeRole` with them, where the session's profile sends STS calls (`sts.ts`).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { AwsCredentials } from "../AwsCredentials.js"
import { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import { mfaCodeFor } from "./assumeRole.js"
import * as SdkClient from "./sdkClient.js"
import * as Sts from "./sts.js"

const source = "assume-role" satisfies Credentials.Source

/** What `AssumeRole.FromArnOptions` holds (see there for each field). */
export interface Options extends Sts.CallOptions {
  readonly roleArn: string
  readonly roleSessionName?: string | undefined
  readonly externalId?: string | undefined
  readonly durationSeconds?: number | undefined
  readonly policy?: string | object | undefined
  readonly tags?: ReadonlyArray<{ readonly Key: string; readonly Value: string }> | Readonly<Record<string, string>> | undefined
  readonly mfa?: {
    readonly serialNumber: string
    readonly tokenCode?: Effect.Effect<string | Redacted.Redacted<string>, unknown> | undefined
  } | undefined
}

/** The options once checked: what every fetch sends. */
export interface Prepared {
  readonly request: Omit<Sts.AssumeRoleRequest, "tokenCode">
  readonly mfa: Options["mfa"]
  readonly call: Sts.CallOptions
}

/** STS's limits on `DurationSeconds` (the upper one is the role's maximum, 12 hours at most). */
const durationLimits = { min: 900, max: 43_200 } as const

/** The default lifetime, as documented on `FromArnOptions.durationSeconds`. */
export const defaultDurationSeconds = 3600

/** An IAM role ARN in any partition: `arn:aws:iam::123456789012:role/path/Name`. */
const roleArnPattern = /^arn:[a-z][a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/

/**
 * Checks the options once, while the layer is built, so that a mistake in code is a build-time
 * `InvalidConfiguration` naming the option rather than an STS `ValidationError` at every refresh.
 * Without `roleSessionName`, botocore's default (`botocore-session-<unix seconds>` at build time)
 * is kept for the layer's life, so refreshes show as one session name in CloudTrail.
 */
export const prepare = (options: Options): Effect.Effect<Prepared, CredentialsError> =>
  Effect.gen(function*() {
    const invalid = (detail: string) =>
      new CredentialsError({ source, reason: "InvalidConfiguration", detail: `AssumeRole.layerFromArn: ${detail}` })
    if (!roleArnPattern.test(options.roleArn)) {
      return yield* invalid(`roleArn "${options.roleArn}" is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)`)
    }
    let roleSessionName = options.roleSessionName
    if (roleSessionName === undefined) {
      roleSessionName = yield* Sts.defaultSessionName
    } else {
      const problem = Sts.checkSessionName(roleSessionName)
      if (Option.isSome(problem)) return yield* invalid(`roleSessionName ${problem.value}`)
    }
    const durationSeconds = options.durationSeconds ?? defaultDurationSeconds
    if (
      !Number.isInteger(durationSeconds) || durationSeconds < durationLimits.min || durationSeconds > durationLimits.max
    ) {
      return yield* invalid(
        `durationSeconds must be an integer from ${durationLimits.min} to ${durationLimits.max}, not ${durationSeconds}`
      )
    }
    const tags = options.tags === undefined
      ? undefined
      : Array.isArray(options.tags)
      ? options.tags as ReadonlyArray<{ readonly Key: string; readonly Value: string }>
      : Object.entries(options.tags).map(([Key, Value]) => ({ Key, Value }))
    if (tags !== undefined && (tags.length > 50 || tags.some((tag) => tag.Key === ""))) {
      return yield* invalid("tags: at most 50 session tags, each with a non-empty Key")
    }
    if (options.mfa !== undefined && options.mfa.serialNumber === "") {
      return yield* invalid("mfa.serialNumber is empty")
    }
    return {
      request: {
        roleArn: options.roleArn,
        roleSessionName,
        externalId: options.externalId,
        durationSeconds,
        serialNumber: options.mfa?.serialNumber,
        policy: options.policy === undefined || typeof options.policy === "string"
          ? options.policy
          : JSON.stringify(options.policy),
        tags
      },
      mfa: options.mfa,
      call: { timeout: options.timeout, maxAttempts: options.maxAttempts }
    }
  })

/**
 * One fetch: the parent's current credentials, the MFA code when the role needs one (asked at
 * every fetch: a code is good once), then `AssumeRole` signed with the parent's credentials.
 * Provenance: `assume-role <arn> from <parent provenance>, via STS ...`.
 */
export const fetch = (
  prepared: Prepared
): Effect.Effect<Credentials.Credentials, CredentialsError, AwsCredentials | AwsSession> =>
  Effect.gen(function*() {
    const { request } = prepared
    const parentService = yield* AwsCredentials
    const parent = yield* parentService.get.pipe(
      Effect.mapError((error) =>
        new CredentialsError({
          source,
          reason: error.reason,
          detail: `the credentials to assume ${request.roleArn} with failed: ${error.message}`,
          cause: error
        })
      )
    )
    const settings = yield* Sts.settings(source, prepared.call)
    const session = yield* AwsSession
    const tokenCode = prepared.mfa === undefined ? undefined : yield* mfaCodeFor({
      request: { serialNumber: prepared.mfa.serialNumber, roleArn: request.roleArn, profile: session.profileName },
      profile: undefined,
      tokenCode: prepared.mfa.tokenCode,
      missing: `the role ${request.roleArn} needs an MFA code (mfa.serialNumber = ${prepared.mfa.serialNumber}): ` +
        "give mfa.tokenCode, or provide MfaTokenProvider.layer((request) => ...) to AssumeRole.layerFromArn"
    })
    const answer = yield* Sts.assumeRole({ source, settings, credentials: parent, request: { ...request, tokenCode } })
    return Sts.toCredentials(
      answer,
      source,
      `assume-role ${request.roleArn} from ${parent.provenance}, ${Sts.describeRoute(settings)}`
    )
  })

/**
 * `fetch` on the session when one is provided (its STS endpoint, region and MFA profile), else
 * on the environment alone, as an SDK client without a profile would be: a role can be assumed
 * on top of any `AwsCredentials`, `layerStatic` included.
 */
export const fetchOnSession = (
  prepared: Prepared
): Effect.Effect<Credentials.Credentials, CredentialsError, AwsCredentials> =>
  Effect.flatMap(Effect.serviceOption(AwsSession), (session) =>
    Effect.provideService(fetch(prepared), AwsSession, Option.getOrElse(session, () => SdkClient.noSession)))
