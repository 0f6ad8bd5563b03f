/**
 * The `assume-role` source's fetch: the active profile turned into a plan
 * (`profileChain.ts`), its root's credentials from the fetcher that makes them (static keys,
 * `credential_process`, web identity, IAM Identity Center, `aws login`, or a `credential_source`:
 * the environment, instance metadata, a container endpoint), then each role assumed through STS
 * with the credentials of the step before, through the AWS CLI cache when it is on.
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import { AwsSession, type Service as Session } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { MfaTokenProvider, type Request as MfaRequest } from "../MfaTokenProvider.js"
import * as ProfileFile from "../ProfileFile.js"
import * as CliCache from "./cliCache.js"
import * as Container from "./container.js"
import * as EnvVars from "./env.js"
import * as EnvCredentials from "./envCredentials.js"
import * as ImdsClient from "./imdsClient.js"
import * as ImdsSettings from "./imdsSettings.js"
import * as LoginProfile from "./loginProfile.js"
import * as ProcessRunner from "./processRunner.js"
import * as ProfileChain from "./profileChain.js"
import * as SsoProfile from "./ssoProfile.js"
import * as Sts from "./sts.js"
import * as WebIdentity from "./webIdentity.js"

const source = "assume-role" satisfies Credentials.Source

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

/**
 * The state of the roots for the life of one assume-role layer, since the chain runs again at
 * every refresh: one SSO-OIDC refresh gate (a failing CreateToken is not asked again at each
 * run), and the instance metadata token and last credentials (static stability through an
 * outage), made when a chain first starts at instance metadata.
 */
export interface RootState {
  readonly ssoGate: SsoProfile.Gate
  readonly imdsState: Ref.Ref<Option.Option<ImdsSettings.State>>
}

export const makeRootState: Effect.Effect<RootState> = Effect.all({
  ssoGate: SsoProfile.makeGate,
  imdsState: Ref.make(Option.none<ImdsSettings.State>())
})

/** The instance metadata state of the layer, made on first use. */
const imdsStateOf = (state: RootState): Effect.Effect<ImdsSettings.State> =>
  Effect.flatMap(Ref.get(state.imdsState), Option.match({
    onSome: Effect.succeed,
    onNone: () => Effect.tap(ImdsSettings.makeState, (made) => Ref.set(state.imdsState, Option.some(made)))
  }))

/** The source's tunables (see `AssumeRole.Options`). */
export interface Tunables extends Sts.CallOptions {
  readonly process?: {
    readonly timeout?: Duration.DurationInput | undefined
    readonly maxOutputBytes?: number | undefined
  } | undefined
  readonly cache?: "cli" | undefined
}

/** The credentials the chain starts from, and how to describe them in the provenance. */
const rootCredentials = (
  root: ProfileChain.Root,
  session: Session,
  settings: Sts.Settings,
  options: Tunables,
  state: RootState
): Effect.Effect<
  { readonly credentials: Credentials.Credentials; readonly trail: string },
  CredentialsError,
  AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
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
        const credentials = yield* ProcessRunner.run({
          ...ProcessRunner.settingsOf(options.process ?? {}),
          command: root.command,
          profile: root.profile,
          path: root.origin.path,
          line: root.origin.line
        }).pipe(Effect.mapError(rootFailure(root, `credential_process of source profile ${root.profile}`)))
        return { credentials, trail: credentials.provenance }
      }
      case "WebIdentity": {
        const credentials = yield* WebIdentity.fetchWithToken(settings, {
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
        const credentials = yield* SsoProfile.fetchCredentials({ session, profileName: root.profile, gate: state.ssoGate }).pipe(
          Effect.mapError(rootFailure(root, `IAM Identity Center for source profile ${root.profile}`))
        )
        return { credentials, trail: `profile ${root.profile} (sso: ${credentials.provenance})` }
      }
      case "Login": {
        const credentials = yield* LoginProfile.fetchCredentials({ session, profileName: root.profile }).pipe(
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
          ? EnvCredentials.fetchCredentials
          : root.name === "Ec2InstanceMetadata"
          ? Effect.flatMap(imdsStateOf(state), (imds) => ImdsClient.resolveCredentials({}, imds))
          : Container.fetchCredentials(Container.defaults)
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

/**
 * A one-time MFA code: from `tokenCode` when the caller gave one, else from the
 * `MfaTokenProvider` service (`missing` says what to do when neither is there); checked to be six
 * digits. Shared by roles from profiles and roles assumed in code (`AssumeRole.layerFromArn`).
 */
export const mfaCodeFor = (options: {
  readonly request: MfaRequest
  /** The profile named in errors, if any. */
  readonly profile: string | undefined
  readonly tokenCode?: Effect.Effect<string | Redacted.Redacted<string>, unknown> | undefined
  readonly missing: string
}): Effect.Effect<Redacted.Redacted<string>, CredentialsError> =>
  Effect.gen(function*() {
    const { serialNumber } = options.request
    const fail = (detail: string) =>
      new CredentialsError({ source, reason: "MfaRequired", profile: options.profile, detail })
    let code: Effect.Effect<string | Redacted.Redacted<string>, unknown>
    if (options.tokenCode !== undefined) {
      code = options.tokenCode
    } else {
      const provider = yield* Effect.serviceOption(MfaTokenProvider)
      if (Option.isNone(provider)) return yield* fail(options.missing)
      code = provider.value.tokenCode(options.request)
    }
    const answer = yield* Effect.mapError(code, () => fail(`the MFA token provider failed to give a code for ${serialNumber}`))
    const value = Redacted.value(Redacted.isRedacted(answer) ? answer : Redacted.make(answer)).trim()
    if (!/^\d{6}$/.test(value)) {
      return yield* fail(`the MFA token provider gave something that is not a six-digit code for ${serialNumber}`)
    }
    return Redacted.make(value)
  })

/** The one-time code for `mfa_serial`, from the `MfaTokenProvider` service. */
const mfaCode = (
  step: ProfileChain.RoleStep,
  serialNumber: string
): Effect.Effect<Redacted.Redacted<string>, CredentialsError> =>
  mfaCodeFor({
    request: { serialNumber, roleArn: step.roleArn, profile: step.profile },
    profile: step.profile,
    missing: `the role ${step.roleArn} needs an MFA code (mfa_serial = ${serialNumber}) and no MfaTokenProvider is ` +
      "provided: add MfaTokenProvider.layer((request) => ...) to the credentials layer, e.g. " +
      "`CredentialChain.layerNode().pipe(Layer.provide(MfaTokenProvider.layer(askUser)))`"
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
  options: Tunables
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
 * profile this source handles.
 */
const plan: Effect.Effect<ProfileChain.Plan, CredentialsUnavailable | CredentialsError, AwsSession> = Effect
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

/** The `assume-role` source's fetch: the plan of the active profile, its root, then each role. */
export const fetchCredentials = (
  options: Tunables,
  state: RootState
): Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const session = yield* AwsSession
    const chain = yield* plan
    const settings = yield* Sts.settings(source, options)
    const root = yield* rootCredentials(chain.root, session, settings, options, state)
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
