/**
 * Chains of credential sources: try each link in order, move on only when a link has nothing
 * configured (`CredentialsUnavailable`), stop at the first link that is configured but broken
 * (`CredentialsError`), and remember every attempt so that a failure, or `explain`, can say
 * what was tried and why it was skipped.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { AwsCredentials, make as makeService } from "./AwsCredentials.js"
import * as AwsSession from "./AwsSession.js"
import type * as Credentials from "./Credentials.js"
import {
  type Attempt,
  CredentialsError,
  CredentialsUnavailable,
  NoCredentialsFound
} from "./CredentialsError.js"
import { platformContext as nodePlatform } from "./internal/nodePlatform.js"
import { elapsedMs } from "./internal/provider.js"
import * as AssumeRole from "./providers/AssumeRole.js"
import * as BotoConfig from "./providers/BotoConfig.js"
import * as ConfigFile from "./providers/ConfigFile.js"
import * as Container from "./providers/ContainerCredentials.js"
import * as Ec2CredentialsFile from "./providers/Ec2CredentialsFile.js"
import * as Env from "./providers/EnvCredentials.js"
import * as InstanceMetadata from "./providers/InstanceMetadata.js"
import * as Login from "./providers/LoginCredentials.js"
import * as Process from "./providers/ProcessCredentials.js"
import * as SharedCredentialsFile from "./providers/SharedCredentialsFile.js"
import * as Sso from "./providers/SsoCredentials.js"
import * as WebIdentity from "./providers/WebIdentity.js"

/**
 * Anything that can be a link: a source layer, or a chain (which fails with
 * `NoCredentialsFound` when all its own links were unavailable).
 *
 * @since 0.1.0
 * @category models
 */
export type Link<R> = Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError | NoCredentialsFound, R>

/**
 * What a chain fails with.
 *
 * @since 0.1.0
 * @category models
 */
export type ChainError = CredentialsError | NoCredentialsFound

/** An error's `cause`, which spreading the error loses (it is not an own enumerable property). */
const causeOf = (error: CredentialsError): { readonly cause?: unknown } =>
  error.cause === undefined ? {} : { cause: error.cause }

/**
 * A `CredentialsError` with the attempts recorded: the link's own failed attempt when it has a
 * source and no attempts yet, and (after the first link) the attempts of the links before it.
 */
const failedAt = (
  error: CredentialsError,
  before: ReadonlyArray<Attempt> | undefined,
  durationMs: number
): CredentialsError => {
  const own = error.attempts !== undefined || error.source === undefined
    ? error
    : new CredentialsError({
      ...error,
      ...causeOf(error),
      attempts: [{ source: error.source, outcome: "failed", reason: error.message, durationMs }]
    })
  return before === undefined
    ? own
    : new CredentialsError({ ...own, ...causeOf(own), attempts: [...before, ...(own.attempts ?? [])] })
}

/**
 * Tries the links in order, each built in the chain's own scope and memo map (what
 * `Layer.catchAll` would do), in one layer rather than a `Layer.catchAll` with timing and
 * attempt layers around each link: every layer built costs a memo-map entry, a scope and a diff
 * of the fiber's refs, and with several per link building the default chain cost more than
 * resolving it. Unavailable (or a nested chain that found nothing) records its attempts and moves
 * on; a `CredentialsError` stops with the attempts so far plus its own; the winner's service gets
 * the earlier attempts in front of its own.
 */
const tryLinks = <R>(
  links: ReadonlyArray<() => Link<R>>
): Effect.Effect<Context.Context<AwsCredentials>, ChainError, R | Scope.Scope> =>
  Effect.gen(function*() {
    const memoMap = yield* Layer.CurrentMemoMap
    const scope = yield* Scope.Scope
    const attempts: Array<Attempt> = []
    for (let index = 0; index < links.length; index++) {
      const start = yield* Clock.currentTimeNanos
      const built = yield* Effect.either(Layer.buildWithMemoMap(links[index]!(), memoMap, scope))
      if (Either.isRight(built)) {
        if (index === 0) return built.right
        const service = Context.get(built.right, AwsCredentials)
        return Context.add(built.right, AwsCredentials, { ...service, attempts: [...attempts, ...service.attempts] })
      }
      const error = built.left
      switch (error._tag) {
        case "CredentialsUnavailable":
          attempts.push({
            source: error.source,
            outcome: "unavailable",
            reason: error.detail,
            durationMs: yield* elapsedMs(start)
          })
          break
        case "NoCredentialsFound":
          attempts.push(...error.attempts)
          break
        case "CredentialsError":
          return yield* Effect.fail(failedAt(error, index === 0 ? undefined : attempts, yield* elapsedMs(start)))
      }
    }
    return yield* Effect.fail(new NoCredentialsFound({ attempts }))
  })

/**
 * Tries `that` when `self` had nothing configured; a `CredentialsError` from `self` stops the
 * chain. Behaves as `Layer.catchAll` on `CredentialsUnavailable` would (same scope, same memo
 * map), with the attempts recorded.
 *
 * @since 0.1.0
 * @category combinators
 */
export const orElse: {
  <R2>(that: () => Link<R2>): <R1>(self: Link<R1>) => Layer.Layer<AwsCredentials, ChainError, R1 | R2>
  <R1, R2>(self: Link<R1>, that: () => Link<R2>): Layer.Layer<AwsCredentials, ChainError, R1 | R2>
} = dual(
  2,
  <R1, R2>(self: Link<R1>, that: () => Link<R2>): Layer.Layer<AwsCredentials, ChainError, R1 | R2> =>
    Layer.scopedContext(tryLinks<R1 | R2>([() => self, that]))
)

/**
 * A chain from links, tried in order:
 * `CredentialChain.make(Env.layer, SharedCredentialsFile.layer, Process.layer)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <Links extends readonly [Link<any>, ...Array<Link<any>>]>(
  ...links: Links
): Layer.Layer<AwsCredentials, ChainError, Layer.Layer.Context<Links[number]>> =>
  Layer.scopedContext(tryLinks(links.map((link) => () => link)))

/**
 * A link that is always skipped, with the reason (used where botocore drops a source, so the
 * attempt still shows up in `explain`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const skip = (source: Credentials.Source, reason: string): Link<never> =>
  Layer.fail(new CredentialsUnavailable({ source, reason: "Disabled", detail: reason }))

/**
 * Tunables of the sources in the default chain.
 *
 * @since 0.1.0
 * @category models
 */
export interface DefaultOptions {
  readonly assumeRole?: AssumeRole.Options | undefined
  readonly webIdentity?: WebIdentity.Options | undefined
  readonly sso?: Sso.Options | undefined
  readonly login?: Login.Options | undefined
  readonly process?: Process.Options | undefined
  readonly botoConfig?: BotoConfig.Options | undefined
  readonly container?: Container.Options | undefined
  readonly instanceMetadata?: InstanceMetadata.Options | undefined
}

/**
 * The requirements of the default chain.
 *
 * @since 0.1.0
 * @category models
 */
export type DefaultRequirements = AwsSession.AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor

/**
 * The default chain with tunables. Explicit keys given to the session win outright (label
 * `explicit`); otherwise the links are botocore's, in its order: `env` (skipped when the
 * profile was named in code or on the command line), `assume-role`,
 * `assume-role-with-web-identity`, `sso`, `shared-credentials-file`, `login`, `custom-process`,
 * `config-file`, `ec2-credentials-file`, `boto-config`, `container-role`, `iam-role`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefaultWith = (
  options: DefaultOptions = {}
): Layer.Layer<AwsCredentials, ChainError, DefaultRequirements> => Layer.scopedContext(defaultChain(options))

/**
 * The default chain as the effect that builds it, so that `layerNode` runs it without another
 * layer around it. Its span lives as long as the chain's scope, as `Layer.withSpan`'s would, and
 * is the parent of the links' spans.
 */
const defaultChain = (
  options: DefaultOptions
): Effect.Effect<Context.Context<AwsCredentials>, ChainError, DefaultRequirements | Scope.Scope> =>
  Effect.flatMap(Effect.makeSpanScoped("CredentialChain.default"), (span) =>
    Effect.flatMap(AwsSession.AwsSession, (session) => {
      if (Option.isSome(session.explicitCredentials)) {
        const credentials = session.explicitCredentials.value
        return Effect.succeed(Context.make(
          AwsCredentials,
          makeService({
            get: Effect.succeed(credentials),
            unsafeCurrent: () => credentials,
            attempts: [{ source: "explicit", outcome: "resolved", reason: credentials.provenance, durationMs: 0 }]
          })
        ))
      }
      return tryLinks<DefaultRequirements>([
        () =>
          AwsSession.profileNamedExplicitly(session)
            ? skip("env", `skipped: the profile ${session.profileName} was named explicitly`)
            : Env.layer,
        () => AssumeRole.layerWith({ ...options.assumeRole, process: options.assumeRole?.process ?? options.process }),
        () => WebIdentity.layerWith(options.webIdentity ?? {}),
        () => Sso.layerWith(options.sso ?? {}),
        () => SharedCredentialsFile.layer,
        () => Login.layerWith(options.login ?? {}),
        () => Process.layerWith(options.process ?? {}),
        () => ConfigFile.layer,
        () => Ec2CredentialsFile.layer,
        () => BotoConfig.layerWith(options.botoConfig ?? {}),
        () => Container.layerWith(options.container ?? {}),
        () => InstanceMetadata.layerWith(options.instanceMetadata ?? {})
      ])
    }).pipe(Effect.withParentSpan(span)))

/**
 * The default chain (see `layerDefaultWith`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<AwsCredentials, ChainError, DefaultRequirements> = layerDefaultWith()

/**
 * Everything in one layer for Node programs: a session from `options` and the environment,
 * the default chain, Node's file system and process runner. Provides the session too, so the
 * program can read the active profile and region.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNode = (
  options: AwsSession.Options & DefaultOptions = {}
): Layer.Layer<AwsCredentials | AwsSession.AwsSession, ChainError> =>
  // One layer, not the session and chain layers on a platform layer: each layer built costs a
  // memo-map entry, a scope and a diff of the fiber's refs, and a program pays it at every start.
  Layer.scopedContext(Effect.gen(function*() {
    const platform = yield* nodePlatform
    const session = yield* Effect.provide(AwsSession.make(options), platform)
    const credentials = yield* Effect.provide(
      defaultChain(options),
      Context.add(platform, AwsSession.AwsSession, session)
    )
    return Context.add(credentials, AwsSession.AwsSession, session)
  }))
