/**
 * The AWS CLI's token caches, read and written the way the CLI and the SDKs do:
 *
 * - IAM Identity Center: `~/.aws/sso/cache/<sha1 hex>.json`, the SHA-1 of the `sso_session`
 *   name, or of the `sso_start_url` for legacy profiles (botocore's `SSOTokenLoader`, the JS
 *   SDK's `getSSOTokenFilepath`);
 * - `aws login`: `~/.aws/login/cache/<sha256 hex of login_session>.json`, or the directory in
 *   `AWS_LOGIN_CACHE_DIRECTORY` (botocore's `get_login_token_cache_directory`).
 *
 * Reading decodes with `Schema` and never echoes a value: a corrupt or foreign file is an error
 * that names the file and the command that writes a good one. Writing goes to a temporary file in
 * the same directory (mode 0600, flushed to disk) that is then renamed over the cache file, so a
 * process reading it (the AWS CLI, another SDK) sees the old file or the new one, never half of
 * one. Fields we do not know are kept.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Data from "effect/Data"
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { createHash, randomUUID } from "node:crypto"
import * as path from "node:path"
import type * as Credentials from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import * as Env from "./env.js"
import { readOptionalFile, stripBom } from "./files.js"
import { expandHome } from "./paths.js"
import { parseTimestamp } from "./time.js"
import { describeParseError, maxDepth, tooDeep } from "./untrusted.js"

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

/** The cache key of an SSO token: SHA-1 of the session name (or, legacy, of the start URL). */
export const ssoCacheKey = (id: string): string => createHash("sha1").update(id, "utf8").digest("hex")

/** The cache key of an `aws login` session: SHA-256 of the `login_session` value. */
export const loginCacheKey = (loginSession: string): string =>
  createHash("sha256").update(loginSession, "utf8").digest("hex")

/** `<home>/.aws/sso/cache/<sha1(id)>.json`. */
export const ssoCachePath = (home: string, id: string): string =>
  path.join(home, ".aws", "sso", "cache", `${ssoCacheKey(id)}.json`)

/** The `aws login` cache directory: `AWS_LOGIN_CACHE_DIRECTORY` (with `~` expanded) or `<home>/.aws/login/cache`. */
export const loginCacheDirectory = (home: string): Effect.Effect<string> =>
  Effect.map(
    Env.optional("AWS_LOGIN_CACHE_DIRECTORY"),
    Option.match({
      onNone: () => path.join(home, ".aws", "login", "cache"),
      onSome: (dir) => expandHome(dir, home)
    })
  )

/** `<login cache directory>/<sha256(loginSession)>.json`. */
export const loginCachePath = (home: string, loginSession: string): Effect.Effect<string> =>
  Effect.map(loginCacheDirectory(home), (dir) => path.join(dir, `${loginCacheKey(loginSession)}.json`))

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

const NonEmpty = Schema.String.pipe(Schema.minLength(1))

/** An SSO token cache file as the AWS CLI writes it (only the fields we use). */
export const SsoToken = Schema.Struct({
  accessToken: NonEmpty,
  expiresAt: NonEmpty,
  refreshToken: Schema.optional(Schema.NullOr(Schema.String)),
  clientId: Schema.optional(Schema.NullOr(Schema.String)),
  clientSecret: Schema.optional(Schema.NullOr(Schema.String)),
  registrationExpiresAt: Schema.optional(Schema.NullOr(Schema.String)),
  startUrl: Schema.optional(Schema.NullOr(Schema.String)),
  region: Schema.optional(Schema.NullOr(Schema.String))
})

export type SsoToken = typeof SsoToken.Type

/** An `aws login` cache file (the fields every SDK requires, plus the optional ones we use). */
export const LoginToken = Schema.Struct({
  accessToken: Schema.Struct({
    accessKeyId: NonEmpty,
    secretAccessKey: NonEmpty,
    sessionToken: NonEmpty,
    accountId: NonEmpty,
    expiresAt: NonEmpty
  }),
  clientId: NonEmpty,
  refreshToken: NonEmpty,
  dpopKey: NonEmpty,
  idToken: Schema.optional(Schema.NullOr(Schema.String)),
  signInRegion: Schema.optional(Schema.NullOr(Schema.String))
})

export type LoginToken = typeof LoginToken.Type

/**
 * A cache timestamp: ISO 8601 as the CLI and the SDKs write it (`2026-01-01T00:00:00Z`, with
 * milliseconds, or with an offset); botocore's older `...T00:00:00UTC` spelling is accepted too.
 */
export const parseCacheTimestamp = (text: string): Option.Option<DateTime.Utc> =>
  parseTimestamp(text.trim().replace(/UTC$/, "Z"))

/** A timestamp as botocore writes it into the caches: `2026-01-01T00:00:00Z` (no milliseconds). */
export const formatCacheTimestamp = (epochMillis: number): string =>
  new Date(Math.floor(epochMillis / 1000) * 1000).toISOString().replace(".000Z", "Z")

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/** A decoded cache file, with the whole JSON object so that a write-back keeps unknown fields. */
export interface Entry<A> {
  readonly path: string
  readonly value: A
  readonly raw: Readonly<Record<string, unknown>>
}

/** How errors about one cache file are worded. */
export interface Context {
  readonly source: Credentials.Source
  readonly profile: string
  /** e.g. `SSO token cache file`. */
  readonly what: string
  /** The command that writes a good file, e.g. `aws sso login --sso-session dev`. */
  readonly fix: string
}

/**
 * Reads and decodes a cache file. A missing file is `None`; a directory or an unreadable file is
 * `FileUnreadable`; a file that is not JSON, not an object or lacks what we need is
 * `MalformedFile` naming the file, the fields (never their values) and the command to run.
 */
export const read = <A, I>(
  file: string,
  schema: Schema.Schema<A, I, never>,
  context: Context
): Effect.Effect<Option.Option<Entry<A>>, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const text = yield* readOptionalFile(file, { source: context.source, what: context.what, kind: "token" })
    if (Option.isNone(text)) return Option.none()
    const malformed = (problem: string) =>
      new CredentialsError({
        source: context.source,
        reason: "MalformedFile",
        profile: context.profile,
        path: file,
        detail: `the ${context.what} ${problem} (its content is not shown: it holds secrets); ` +
          `run \`${context.fix}\` to write a new one`
      })
    let json: unknown
    try {
      json = JSON.parse(stripBom(text.value))
    } catch {
      return yield* malformed("is not valid JSON")
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return yield* malformed("does not hold a JSON object")
    }
    if (tooDeep(json)) return yield* malformed(`is nested more than ${maxDepth} levels deep`)
    const decoded = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })(json)
    if (Either.isLeft(decoded)) {
      return yield* malformed(`is not usable: ${describeParseError(decoded.left)}`)
    }
    return Option.some({ path: file, value: decoded.right, raw: json as Record<string, unknown> })
  })

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/** A cache file could not be written; the sources log it and go on with the token they hold. */
export class WriteFailed extends Data.TaggedError("WriteFailed")<{
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot write ${this.path}: ${this.detail}`
  }
}

/**
 * Writes `value` as JSON to `file` atomically: a temporary file next to it (created exclusively,
 * mode 0600, flushed), then a rename over `file`. The directory is created (mode 0700) when
 * missing. On failure the temporary file is removed and `file` is left as it was.
 */
export const writeAtomic = (
  file: string,
  value: unknown
): Effect.Effect<void, WriteFailed, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const directory = path.dirname(file)
    const temporary = path.join(directory, `.${path.basename(file)}.${randomUUID()}.tmp`)
    const bytes = new TextEncoder().encode(JSON.stringify(value))
    const write = Effect.gen(function*() {
      yield* fs.makeDirectory(directory, { recursive: true, mode: 0o700 })
      yield* Effect.scoped(Effect.gen(function*() {
        const handle = yield* fs.open(temporary, { flag: "wx", mode: 0o600 })
        yield* handle.writeAll(bytes)
        yield* handle.sync
      }))
      // The mode given to open is filtered by the umask, which can only take bits away; make it
      // exactly 0600 anyway, in case the file system ignores modes at creation.
      yield* fs.chmod(temporary, 0o600)
      yield* fs.rename(temporary, file)
    })
    yield* write.pipe(
      Effect.tapError(() => Effect.ignore(fs.remove(temporary))),
      Effect.mapError((error) => new WriteFailed({ path: file, detail: error.message }))
    )
  })
