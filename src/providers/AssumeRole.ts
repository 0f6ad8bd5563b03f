/**
 * Credentials of a role assumed through STS (botocore's `assume-role`), for a profile with
 * `role_arn` and either `source_profile` or `credential_source`:
 *
 * ```ini
 * [profile dev]
 * role_arn = arn:aws:iam::111111111111:role/Dev
 * source_profile = base           ; or: credential_source = Environment | Ec2InstanceMetadata | EcsContainer
 * role_session_name = me          ; default botocore-session-<unix time>
 * external_id = ...               ; optional
 * duration_seconds = 3600         ; optional (STS's default is one hour)
 * mfa_serial = arn:aws:iam::111111111111:mfa/me   ; asks the MfaTokenProvider service
 * ```
 *
 * The source profile may itself assume a role, to any depth; the chain starts from static keys,
 * `credential_process`, web identity, IAM Identity Center, an `aws login` session or a
 * `credential_source` (see `internal/profileChain.ts` for the rules). A profile with
 * `web_identity_token_file` is left to `assume-role-with-web-identity`. Every STS call uses the
 * active profile's region and endpoint settings, as botocore does (`internal/sts.ts`): without a
 * region, the global endpoint signed for us-east-1; the instance metadata service is never asked
 * for the region.
 *
 * The credentials expire with the outermost role's; refreshing runs the whole chain again (the
 * root included: a `credential_process` runs again, instance metadata is asked again).
 * Provenance shows the path and where the STS calls went, e.g. `profile dev -> assume-role
 * arn:aws:iam::1:role/A -> profile base (shared-credentials-file /home/me/.aws/credentials:2), via
 * STS eu-west-1 (regional endpoint, region from AWS_REGION)` (or `from the AWS CLI cache ...`
 * when the outermost role's credentials were read from there).
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { AwsCredentials } from "../AwsCredentials.js"
import { AwsSession, type Service as Session } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as ProfileChain from "../internal/profileChain.js"
import * as EnvVars from "../internal/env.js"
import { sourceLayer } from "../internal/provider.js"
import {
  type ImdsStateCell,
  makeImdsStateCell,
  makeSsoGate,
  RootSources,
  type SsoGate
} from "../internal/roleRoots.js"
import * as Sts from "../internal/sts.js"
import { MfaTokenProvider } from "../MfaTokenProvider.js"
import * as ProfileFile from "../ProfileFile.js"
import * as Env from "./Env.js"
import * as Process from "./Process.js"
import * as WebIdentity from "./WebIdentity.js"
import * as CliCache from "../internal/cliCache.js"

const source = "assume-role" satisfies Credentials.Source

/**
 * Tunables of the `assume-role` source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long one STS attempt may take. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How many STS attempts at most (throttling, 5xx, timeouts, unreachable). Default 3. */
  readonly maxAttempts?: number | undefined
  /** Tunables of a `credential_process` at the root of the chain. */
  readonly process?: Process.Options | undefined
  /**
   * `"cli"`: share assumed-role credentials through the AWS CLI's cache
   * (`~/.aws/cli/cache/<key>.json`, same keys and format), so that several processes and the
   * CLI assume a role once and an MFA code is asked for once per set of credentials. Off by
   * default, as in botocore (only the CLI turns it on).
   */
  readonly cache?: "cli" | undefined
}

/** `profile dev (/home/me/.aws/config:3)`-style location of a setting. */
const at = (origin: ProfileChain.Origin): string => `${origin.path}:${origin.line}`

/**
 * A failure of the chain's root, reported by this source: what was being done, then the
 * root source's own message (it already names its source, profile and file).
 */
const rootFailure = (
  root: ProfileChain.Root,
  what: string
) =>
(error: CredentialsUnavailable | CredentialsError): CredentialsError =>
  error._tag === "CredentialsUnavailable"
    ? new CredentialsError({
      source,
      reason: "InvalidConfiguration",
      profile: root.profile,
      detail: `${what} gave no credentials: ${error.message}`
    })
    : new CredentialsError({
      source,
      reason: error.reason,
      profile: root.profile,
      detail: `${what} failed: ${error.message}`,
      cause: error
    })

/** What a source layer passes to `resolveWith` besides the user's options. */
interface Internal {
  readonly ssoGate?: SsoGate | undefined
  readonly imdsState?: ImdsStateCell | undefined
}

/** The credentials the chain starts from, and how to describe them in the provenance. */
const rootCredentials = (
  root: ProfileChain.Root,
  session: Session,
  settings: Sts.Settings,
  options: Options & Internal
): Effect.Effect<
  { readonly credentials: Credentials.Credentials; readonly trail: string },
  CredentialsError,
  AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const roots = yield* RootSources
    switch (root._tag) {
      case "AccessKey": {
        const trail = `profile ${root.profile} (${root.label} ${at(root.origin)})`
        return {
          credentials: Credentials.make({
            accessKeyId: root.accessKeyId,
            secretAccessKey: root.secretAccessKey,
            sessionToken: root.sessionToken,
            accountId: root.accountId,
            source: root.label,
            provenance: trail
          }),
          trail
        }
      }
      case "Process": {
        const credentials = yield* Process.run({
          command: root.command,
          profile: root.profile,
          path: root.origin.path,
          line: root.origin.line,
          timeout: options.process?.timeout,
          maxOutputBytes: options.process?.maxOutputBytes
        }).pipe(Effect.mapError(rootFailure(root, `credential_process of source profile ${root.profile}`)))
        return { credentials, trail: credentials.provenance }
      }
      case "WebIdentity": {
        const credentials = yield* WebIdentity.assumeWith(settings, {
          roleArn: root.roleArn,
          tokenFile: root.tokenFile,
          sessionName: root.sessionName,
          sessionNameFrom: root.sessionName === undefined ? undefined : `role_session_name in profile ${root.profile}`,
          profile: root.profile,
          tokenFileFrom: `web_identity_token_file in profile ${root.profile} (${at(root.origin)})`
        }).pipe(Effect.mapError(rootFailure(root, `web identity of source profile ${root.profile}`)))
        return { credentials, trail: `profile ${root.profile} (${credentials.provenance})` }
      }
      case "Sso": {
        const credentials = yield* roots.sso(session, root.profile, options.ssoGate).pipe(
          Effect.mapError(rootFailure(root, `IAM Identity Center for source profile ${root.profile}`))
        )
        return { credentials, trail: `profile ${root.profile} (sso: ${credentials.provenance})` }
      }
      case "Login": {
        const credentials = yield* roots.login(session, root.profile).pipe(
          Effect.mapError(rootFailure(root, `the aws login session of source profile ${root.profile}`))
        )
        return { credentials, trail: `profile ${root.profile} (login: ${credentials.provenance})` }
      }
      case "NamedSource": {
        const what = `credential_source = ${root.name} in profile ${root.profile} (${at(root.origin)})`
        const resolved: Effect.Effect<
          Credentials.Credentials,
          CredentialsUnavailable | CredentialsError,
          AwsSession | FileSystem.FileSystem
        > = root.name === "Environment"
          ? Env.resolve
          : root.name === "Ec2InstanceMetadata"
          ? roots.instanceMetadata(options.imdsState)
          : roots.container
        const credentials = yield* resolved.pipe(Effect.mapError(rootFailure(root, what)))
        return { credentials, trail: `credential_source ${root.name} (${credentials.provenance})` }
      }
    }
  })

/** `duration_seconds` as botocore reads it: an integer, or ignored. */
const durationOf = (step: ProfileChain.RoleStep): Effect.Effect<number | undefined> => {
  const text = step.durationSeconds
  if (text === undefined) return Effect.succeed(undefined)
  if (/^\s*[+-]?\d+\s*$/.test(text)) return Effect.succeed(Number.parseInt(text.trim(), 10))
  return Effect.as(
    Effect.logWarning(
      `profile ${step.profile}: duration_seconds = "${text}" is not an integer and is ignored (as botocore does); ` +
        "STS's default of one hour applies"
    ).pipe(Effect.annotateLogs({ source })),
    undefined
  )
}

/** The one-time code for `mfa_serial`, from the `MfaTokenProvider` service. */
const mfaCode = (
  step: ProfileChain.RoleStep,
  serialNumber: string
): Effect.Effect<Redacted.Redacted<string>, CredentialsError> =>
  Effect.gen(function*() {
    const fail = (detail: string) =>
      new CredentialsError({ source, reason: "MfaRequired", profile: step.profile, detail })
    const provider = yield* Effect.serviceOption(MfaTokenProvider)
    if (Option.isNone(provider)) {
      return yield* fail(
        `the role ${step.roleArn} needs an MFA code (mfa_serial = ${serialNumber}) and no MfaTokenProvider is ` +
          "provided: add MfaTokenProvider.layer((request) => ...) to the credentials layer, e.g. " +
          "`CredentialChain.layerNode().pipe(Layer.provide(MfaTokenProvider.layer(askUser)))`"
      )
    }
    const answer = yield* provider.value.tokenCode({
      serialNumber,
      roleArn: step.roleArn,
      profile: step.profile
    }).pipe(
      Effect.mapError(() => fail(`the MfaTokenProvider failed to give a code for ${serialNumber}`))
    )
    const code = Redacted.isRedacted(answer) ? answer : Redacted.make(answer)
    if (!/^\d{6}$/.test(Redacted.value(code).trim())) {
      return yield* fail(`the MfaTokenProvider gave something that is not a six-digit code for ${serialNumber}`)
    }
    return Redacted.make(Redacted.value(code).trim())
  })

/**
 * Assumes one role with the credentials of the step before; with the CLI cache on, answers from
 * it while its credentials have more than 15 minutes left (before asking for an MFA code).
 * `cacheFile` is the cache file the answer was read from, if it was.
 */
const assumeStep = (
  settings: Sts.Settings,
  credentials: Credentials.Credentials,
  step: ProfileChain.RoleStep,
  options: Options
): Effect.Effect<
  { readonly answer: Sts.StsCredentials; readonly cacheFile: string | undefined },
  CredentialsError,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    let sessionName = step.sessionName
    if (sessionName === undefined) {
      sessionName = yield* Sts.defaultSessionName
    } else {
      const problem = Sts.checkSessionName(sessionName)
      if (Option.isSome(problem)) {
        return yield* new CredentialsError({
          source,
          reason: "InvalidConfiguration",
          profile: step.profile,
          detail: `role_session_name ${problem.value}`
        })
      }
    }
    const durationSeconds = yield* durationOf(step)
    const cache = options.cache === "cli"
      ? yield* EnvVars.homeDirectory.pipe(
        Effect.map((home) => ({
          cliCache: CliCache,
          directory: CliCache.cacheDirectory(home),
          key: CliCache.cacheKey({
            RoleArn: step.roleArn,
            // botocore leaves a generated session name out of the key.
            RoleSessionName: step.sessionName,
            ExternalId: step.externalId,
            SerialNumber: step.mfaSerial,
            DurationSeconds: durationSeconds
          })
        }))
      )
      : undefined
    if (cache !== undefined) {
      const hit = yield* cache.cliCache.read(cache.directory, cache.key)
      if (Option.isSome(hit)) {
        yield* Effect.logDebug("assumed-role credentials from the AWS CLI cache").pipe(
          Effect.annotateLogs({ roleArn: step.roleArn, key: cache.key })
        )
        return { answer: hit.value, cacheFile: `${cache.key}.json in ${cache.directory}` }
      }
    }
    const tokenCode = step.mfaSerial === undefined ? undefined : yield* mfaCode(step, step.mfaSerial)
    const answer = yield* Sts.assumeRole({
      source,
      profile: step.profile,
      settings,
      credentials,
      request: {
        roleArn: step.roleArn,
        roleSessionName: sessionName,
        externalId: step.externalId,
        durationSeconds,
        serialNumber: step.mfaSerial,
        tokenCode
      }
    })
    if (cache !== undefined) yield* cache.cliCache.write(cache.directory, cache.key, answer)
    return { answer, cacheFile: undefined }
  })

/**
 * The plan for the session's active profile, or `CredentialsUnavailable` when it is not a role
 * profile this source handles. Exposed for the conformance vectors; not part of the public API.
 *
 * @internal
 */
export const plan: Effect.Effect<ProfileChain.Plan, CredentialsUnavailable | CredentialsError, AwsSession> = Effect
  .gen(function*() {
    const session = yield* AwsSession
    if (Option.isNone(session.profile)) {
      return yield* new CredentialsUnavailable({ source, reason: "NotConfigured",
 detail: `profile ${session.profileName} is not defined` })
    }
    const section = session.profile.value
    if (!ProfileChain.isRoleProfile(section)) {
      return yield* new CredentialsUnavailable({
        source,
        reason: "NotConfigured",
 detail: Option.isSome(ProfileFile.value(section, "web_identity_token_file"))
          ? `profile ${session.profileName} has web_identity_token_file (assume-role-with-web-identity handles it)`
          : `profile ${session.profileName} has no role_arn`
      })
    }
    return yield* Either.match(
      ProfileChain.resolve({
        profiles: session.profiles,
        selected: session.profileName,
        credentialsFile: session.credentialsFile.path
      }),
      { onLeft: Effect.fail, onRight: Effect.succeed }
    )
  })

const resolveWithState = (
  options: Options & Internal
): Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const session = yield* AwsSession
    const chain = yield* plan
    const settings = yield* Sts.settings(source, options)
    const root = yield* rootCredentials(chain.root, session, settings, options)
    let current = root.credentials
    let cacheFile: string | undefined
    for (const step of chain.roles) {
      const assumed = yield* assumeStep(settings, current, step, options)
      cacheFile = assumed.cacheFile
      current = Sts.toCredentials(assumed.answer, source, `assume-role ${step.roleArn}`)
    }
    const outermostFirst = [...chain.roles].reverse()
    const path = [
      ...outermostFirst.map((step) => `profile ${step.profile} -> assume-role ${step.roleArn}`),
      root.trail
    ].join(" -> ")
    // What made the credentials handed out: the last STS call, or the cache file it was served from.
    const how = cacheFile === undefined ? Sts.describeRoute(settings) : `from the AWS CLI cache (${cacheFile})`
    return Credentials.withProvenance(current, `${path}, ${how}`)
  })

/**
 * Resolves the active profile's role chain with these tunables.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolveWith = (
  options: Options = {}
): Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> => resolveWithState(options)

/**
 * Resolves the active profile's role chain with the default tunables.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve: Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> = resolveWith()

/**
 * The `assume-role` source with its tunables. Provide an `MfaTokenProvider` for profiles with
 * `mfa_serial`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> =>
  // State of the roots for the layer's life, since the chain is re-run at every refresh: one
  // SSO-OIDC refresh gate (a failing CreateToken is not retried at each run) and the instance
  // metadata token and last credentials (static stability through a metadata outage).
  Layer.unwrapEffect(
    Effect.map(
      Effect.all({ ssoGate: makeSsoGate, imdsState: makeImdsStateCell }),
      (state) => sourceLayer(source, resolveWithState({ ...options, ...state }))
    )
  )

/**
 * The `assume-role` source (10 s per STS attempt, 3 attempts; 60 s for a root
 * `credential_process`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> = layerWith({})
