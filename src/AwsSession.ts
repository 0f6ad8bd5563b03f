/**
 * `AwsSession`, the analogue of `boto3.Session`: which profile is active and why, explicit keys
 * and region given in code, and the shared config files as they were when the session was
 * built. Every credential source and the region resolver read from it, so the files are read
 * once per session, and two sessions with different profiles live side by side.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import type * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as os from "node:os"
import type * as AwsCredentials from "./AwsCredentials.js"
import * as Credentials from "./Credentials.js"
import { CredentialsError } from "./CredentialsError.js"
import * as Env from "./internal/env.js"
import { fileSystemLayer as nodeFileSystem } from "./internal/nodePlatform.js"
import * as ProfileFile from "./ProfileFile.js"
import { boundedList } from "./internal/scrub.js"

/**
 * How the active profile was chosen. Only `option` (named in code or on the command line) drops
 * the environment variables from the chain; `AWS_PROFILE` does not.
 *
 * @since 0.1.0
 * @category models
 */
export type ProfileSource = "option" | "AWS_PROFILE" | "AWS_DEFAULT_PROFILE" | "default"

/**
 * What a session is built from; everything optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A profile name; overrides `AWS_PROFILE` and drops environment credentials from the chain. */
  readonly profile?: string | undefined
  /** Explicit keys; when given, the default chain returns them without looking elsewhere. */
  readonly credentials?: AwsCredentials.StaticOptions | undefined
  /** An explicit region; overrides `AWS_REGION`, `AWS_DEFAULT_REGION` and the profile. */
  readonly region?: string | undefined
  /** Overrides `AWS_CONFIG_FILE` / `~/.aws/config`. */
  readonly configFile?: string | undefined
  /** Overrides `AWS_SHARED_CREDENTIALS_FILE` / `~/.aws/credentials`. */
  readonly credentialsFile?: string | undefined
}

/**
 * What a session knows about one instance metadata endpoint: being asked right now (`Asking`:
 * whoever comes next waits for `verdict`, `Some(detail)` when it proved unreachable, `None`
 * otherwise), or found unreachable at `since` (epoch milliseconds of the `Clock`).
 *
 * @since 0.1.0
 * @category models
 */
export type MetadataEndpointState =
  | { readonly _tag: "Asking"; readonly verdict: Deferred.Deferred<Option.Option<string>> }
  | { readonly _tag: "Unreachable"; readonly detail: string; readonly since: number }

/**
 * What a session has learnt about the instance metadata service, by endpoint URL. The `iam-role`
 * link and the region's metadata link both consult it, so that off EC2 the service's timeouts are
 * paid once per session, not once per link. Bookkeeping of the library: programs neither read
 * nor write it.
 *
 * @since 0.1.0
 * @category models
 */
export interface MetadataMemo {
  readonly endpoints: Ref.Ref<ReadonlyMap<string, MetadataEndpointState>>
}

/**
 * An empty memo; every session gets its own (`reload` included, so a refresh asks afresh).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMetadataMemo: Effect.Effect<MetadataMemo> = Effect.map(
  Ref.make<ReadonlyMap<string, MetadataEndpointState>>(new Map()),
  (endpoints) => ({ endpoints })
)

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly profileName: string
  readonly profileSource: ProfileSource
  readonly explicitCredentials: Option.Option<Credentials.Credentials>
  readonly explicitRegion: Option.Option<string>
  readonly home: Option.Option<string>
  readonly configFile: ProfileFile.FileInfo
  readonly credentialsFile: ProfileFile.FileInfo
  readonly profiles: ProfileFile.ProfileSet
  /** The active profile's merged properties, if it exists in either file. */
  readonly profile: Option.Option<ProfileFile.Section>
  /**
   * The same session built again (same options, same environment, the files read afresh). A
   * source runs it when it fetches again after its first resolution (a refresh, or the fetch
   * after `invalidate`), so a profile file edited while the program runs is noticed then, without
   * any polling. Absent for sessions not read from files.
   */
  readonly reload?: Effect.Effect<Service, CredentialsError> | undefined
  /**
   * What this session learnt about the instance metadata service (see `MetadataMemo`). A session
   * built by hand may leave it out: each metadata lookup then asks on its own.
   */
  readonly metadata?: MetadataMemo | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class AwsSession extends Context.Tag("effect-aws-credentials/AwsSession")<AwsSession, Service>() {}

const currentPlatform = (): "linux" | "windows" | "darwin" =>
  process.platform === "win32" ? "windows" : process.platform === "darwin" ? "darwin" : "linux"

/**
 * Whether the environment drops out of the chain: only a profile named in code or on the
 * command line does that (botocore's rule).
 *
 * @since 0.1.0
 * @category accessors
 */
export const profileNamedExplicitly = (self: Service): boolean => self.profileSource === "option"

/**
 * The names of every profile the files define, sorted.
 *
 * @since 0.1.0
 * @category accessors
 */
export const profileNames = (self: Service): ReadonlyArray<string> => [...self.profiles.profiles.keys()].sort()

/**
 * Which profile a session with these options uses, and why: the option, then `AWS_PROFILE`,
 * then `AWS_DEFAULT_PROFILE`, then `default`. (botocore reads `AWS_DEFAULT_PROFILE` first; the
 * AWS CLI v2 and the other SDKs read `AWS_PROFILE` first, and so do we.)
 *
 * @since 0.1.0
 * @category resolution
 */
export const selectProfile = (
  options: Pick<Options, "profile"> = {}
): Effect.Effect<{ readonly name: string; readonly source: ProfileSource }> =>
  options.profile !== undefined && options.profile !== ""
    ? Effect.succeed({ name: options.profile, source: "option" as const })
    : Env.firstOf(["AWS_PROFILE", "AWS_DEFAULT_PROFILE"]).pipe(
      Effect.map(Option.match({
        onNone: () => ({ name: "default", source: "default" as const }),
        onSome: ({ name, value }) => ({ name: value, source: name as ProfileSource })
      }))
    )

/**
 * Finds and reads the two profile files as a session would (the options, then
 * `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`, then `~/.aws/`), without choosing a
 * profile: for tools that look at every profile, such as the command line's `list-profiles`.
 * `profiles` keeps the files' order: the config file's profiles first, then those only in the
 * credentials file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadFiles = (
  options: Pick<Options, "configFile" | "credentialsFile"> = {}
): Effect.Effect<ProfileFile.LoadedFiles & { readonly home: string | undefined }, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const env = {
      HOME: Option.getOrUndefined(yield* Env.optional("HOME")),
      USERPROFILE: Option.getOrUndefined(yield* Env.optional("USERPROFILE")),
      HOMEDRIVE: Option.getOrUndefined(yield* Env.optional("HOMEDRIVE")),
      HOMEPATH: Option.getOrUndefined(yield* Env.optional("HOMEPATH")),
      AWS_CONFIG_FILE: options.configFile ?? Option.getOrUndefined(yield* Env.optional("AWS_CONFIG_FILE")),
      AWS_SHARED_CREDENTIALS_FILE: options.credentialsFile ??
        Option.getOrUndefined(yield* Env.optional("AWS_SHARED_CREDENTIALS_FILE"))
    }
    // Without any home variable, fall back to the account's home directory (as Python's
    // expanduser does), which the operating system knows without the environment.
    const located = ProfileFile.locate(
      env.HOME === undefined && env.USERPROFILE === undefined && env.HOMEPATH === undefined
        ? { ...env, HOME: os.homedir() }
        : env,
      currentPlatform()
    )
    const loaded = yield* ProfileFile.load({
      configFile: located.configFile,
      credentialsFile: located.credentialsFile
    })
    return { ...loaded, home: located.home }
  })

/**
 * Builds a session: picks the profile (option > `AWS_PROFILE` > `AWS_DEFAULT_PROFILE` >
 * `default`), reads both files once, and checks that a profile named explicitly (option or an
 * environment variable) exists; if not, the error is `ProfileNotFound` and lists the profiles
 * that do.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<Service, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fileSystem = yield* FileSystem.FileSystem
    const configProvider = yield* Effect.configProviderWith(Effect.succeed)
    const selected = yield* selectProfile(options)
    const loaded = yield* loadFiles(options)
    const profile = Option.fromNullable(loaded.profiles.profiles.get(selected.name))

    if (Option.isNone(profile) && selected.source !== "default") {
      const known = [...loaded.profiles.profiles.keys()].sort()
      const files = [loaded.configFile, loaded.credentialsFile]
        .map((file) => `${file.path ?? "(no path)"}${file.exists ? "" : " (missing)"}`)
        .join(" and ")
      return yield* new CredentialsError({
        reason: "ProfileNotFound",
        profile: selected.name,
        detail: `the profile "${selected.name}" (from ${
          selected.source === "option" ? "the profile option" : selected.source
        }) is not in ${files}; ${
          known.length === 0 ? "no profiles are defined" : `profiles defined: ${boundedList(known)}`
        }`
      })
    }

    return {
      profileName: selected.name,
      profileSource: selected.source,
      explicitCredentials: options.credentials === undefined
        ? Option.none()
        : Option.some(Credentials.make({
          ...options.credentials,
          source: "explicit",
          provenance: options.credentials.provenance ?? "explicit keys given to the session"
        })),
      explicitRegion: Option.fromNullable(options.region).pipe(Option.filter((r) => r !== "")),
      home: Option.fromNullable(loaded.home),
      configFile: loaded.configFile,
      credentialsFile: loaded.credentialsFile,
      profiles: loaded.profiles,
      profile,
      metadata: yield* makeMetadataMemo,
      reload: Effect.suspend(() => make(options)).pipe(
        Effect.provideService(FileSystem.FileSystem, fileSystem),
        Effect.withConfigProvider(configProvider)
      )
    }
  }).pipe(Effect.withSpan("AwsSession.make"))

/**
 * A session layer. Needs a `FileSystem`; see `layerNode` for one that brings Node's.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<AwsSession, CredentialsError, FileSystem.FileSystem> =>
  Layer.effect(AwsSession, make(options))

/**
 * A session layer on Node's file system.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNode = (options?: Options): Layer.Layer<AwsSession, CredentialsError> =>
  Layer.provide(layer(options), nodeFileSystem)

/**
 * A session from given profiles, for tests that do not want files at all.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromProfiles = (options: {
  readonly profiles: ProfileFile.ProfileSet
  readonly profile?: string | undefined
  readonly region?: string | undefined
}): Layer.Layer<AwsSession> => {
  const name = options.profile ?? "default"
  return Layer.effect(AwsSession, Effect.map(makeMetadataMemo, (metadata) => ({
    profileName: name,
    profileSource: options.profile === undefined ? "default" : "option",
    explicitCredentials: Option.none(),
    explicitRegion: Option.fromNullable(options.region),
    home: Option.none(),
    configFile: { path: undefined, exists: false },
    credentialsFile: { path: undefined, exists: false },
    profiles: options.profiles,
    profile: Option.fromNullable(options.profiles.profiles.get(name)),
    metadata
  })))
}
