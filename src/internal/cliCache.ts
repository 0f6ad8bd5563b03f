/**
 * The AWS CLI's on-disk cache of role credentials (`~/.aws/cli/cache/<key>.json`), so that
 * several processes, and the AWS CLI itself, share one set of assumed-role or IAM Identity Center
 * role credentials and an MFA code is not asked for again until they expire.
 *
 * Compatibility with the CLI (botocore's `AssumeRoleCredentialFetcher` and
 * `SSOCredentialFetcher` + the CLI's `JSONFileCache`; AWS CLI v1 and v2 cache assumed roles there,
 * only v2 caches SSO roles there):
 * - assume-role key: the SHA-1 (hex) of the AssumeRole arguments as Python's `json.dumps(args,
 *   sort_keys=True)` prints them (`", "` and `": "` separators, non-ASCII escaped): `RoleArn`, and
 *   `RoleSessionName` (only when configured), `ExternalId`, `SerialNumber`, `DurationSeconds`
 *   when set;
 * - SSO key: the SHA-1 (hex) of `{"accountId", "roleName"}` plus `"sessionName"` (an
 *   `sso_session` profile) or `"startUrl"` (a legacy profile), as `json.dumps(args,
 *   sort_keys=True, separators=(",", ":"))` prints them (no spaces);
 * - assume-role content: the AssumeRole response, `{"Credentials": {"AccessKeyId",
 *   "SecretAccessKey", "SessionToken", "Expiration", "AccountId"?}, "AssumedRoleUser": {...}}`,
 *   with the expiration written as the CLI writes it (`2026-11-29T12:00:00UTC`);
 * - SSO content: `{"ProviderType": "sso", "Credentials": {"AccessKeyId", "SecretAccessKey",
 *   "SessionToken", "Expiration", "AccountId"}}` with the expiration as `2026-11-29T12:00:00Z`
 *   (`aws sso logout` deletes the files with this `ProviderType`);
 * - both are read with the expiration in either spelling or ISO 8601, and used while they have
 *   more than 15 minutes left (botocore's window).
 *
 * Writes go to a temporary file in the same directory, mode 0600, then a rename: a reader, this
 * library or the CLI, sees the old file or the new one, never half of one. A corrupt or foreign
 * file is ignored (logged at debug level), never fatal; so is a cache directory that cannot be
 * written.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createHash, randomBytes } from "node:crypto"
import * as path from "node:path"
import type { StsCredentials } from "./sts.js"
import { parseTimestamp } from "./time.js"
import { decodeJson } from "./untrusted.js"
import { readOptionalFile } from "./files.js"

/** What the CLI keys a role by. */
export interface AssumeRoleArgs {
  readonly RoleArn: string
  readonly RoleSessionName?: string | undefined
  readonly ExternalId?: string | undefined
  readonly SerialNumber?: string | undefined
  readonly DurationSeconds?: number | undefined
}

/** What the CLI (v2) keys an IAM Identity Center role by. */
export interface SsoRoleArgs {
  readonly accountId: string
  readonly roleName: string
  /** The `[sso-session]` name; when set, the start URL is not part of the key. */
  readonly sessionName?: string | undefined
  readonly startUrl: string
}

/** Which fetcher's file format to write. */
export type Format = "assume-role" | "sso"

/** What is cached: an AssumeRole answer, as STS gave it (or SSO role credentials in that shape). */
export type CachedCredentials = StsCredentials

/** botocore's `CachedCredentialFetcher.DEFAULT_EXPIRY_WINDOW_SECONDS`. */
const expiryWindowMillis = 15 * 60 * 1000

/** A string as Python's `json.dumps` writes it (`ensure_ascii=True`). */
const pythonString = (value: string): string =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * `json.dumps(args, sort_keys=True)` for a flat object of strings and integers; with `compact`,
 * `separators=(",", ":")` as well.
 */
export const pythonJsonDumps = (
  args: Readonly<Record<string, string | number>>,
  options: { readonly compact?: boolean } = {}
): string => {
  const [itemSeparator, keySeparator] = options.compact === true ? [",", ":"] : [", ", ": "]
  return `{${
    Object.keys(args).sort().map((key) => {
      const value = args[key]!
      return `${pythonString(key)}${keySeparator}${typeof value === "number" ? String(value) : pythonString(value)}`
    }).join(itemSeparator)
  }}`
}

/** The cache file name (without `.json`) the CLI uses for these arguments. */
export const cacheKey = (args: AssumeRoleArgs): string => {
  const flat: Record<string, string | number> = { RoleArn: args.RoleArn }
  if (args.RoleSessionName !== undefined) flat.RoleSessionName = args.RoleSessionName
  if (args.ExternalId !== undefined) flat.ExternalId = args.ExternalId
  if (args.SerialNumber !== undefined) flat.SerialNumber = args.SerialNumber
  if (args.DurationSeconds !== undefined) flat.DurationSeconds = args.DurationSeconds
  // botocore's `_make_file_safe` would replace ':' and '/', which a hex digest never has.
  return createHash("sha1").update(pythonJsonDumps(flat), "utf8").digest("hex")
}

/** The cache file name (without `.json`) the CLI v2 uses for an IAM Identity Center role. */
export const ssoCacheKey = (args: SsoRoleArgs): string => {
  const flat: Record<string, string> = { accountId: args.accountId, roleName: args.roleName }
  // botocore tests the session name for truthiness: an empty one keys by the start URL.
  if (args.sessionName !== undefined && args.sessionName !== "") flat.sessionName = args.sessionName
  else flat.startUrl = args.startUrl
  return createHash("sha1").update(pythonJsonDumps(flat, { compact: true }), "utf8").digest("hex")
}

/** `~/.aws/cli/cache`. */
export const cacheDirectory = (home: string): string => path.join(home, ".aws", "cli", "cache")

const CacheFile = Schema.Struct({
  Credentials: Schema.Struct({
    AccessKeyId: Schema.String.pipe(Schema.minLength(1)),
    SecretAccessKey: Schema.String.pipe(Schema.minLength(1)),
    SessionToken: Schema.String.pipe(Schema.minLength(1)),
    Expiration: Schema.String,
    AccountId: Schema.optional(Schema.NullOr(Schema.String))
  }),
  AssumedRoleUser: Schema.optional(Schema.Struct({ Arn: Schema.optional(Schema.String) }))
})
const decodeCacheFile = decodeJson(CacheFile)

/**
 * The expiration as each fetcher writes it: assume-role `strftime('%Y-%m-%dT%H:%M:%S%Z')` of a
 * UTC datetime, SSO `strftime('%Y-%m-%dT%H:%M:%SZ')`.
 */
const cliTimestamp = (dateTime: DateTime.Utc, format: Format): string =>
  `${DateTime.formatIso(dateTime).slice(0, 19)}${format === "sso" ? "Z" : "UTC"}`

const parseCliTimestamp = (text: string): Option.Option<DateTime.Utc> =>
  parseTimestamp(text.replace(/ ?(UTC|GMT)$/, "Z"))

/**
 * Cached credentials for `key` with more than 15 minutes left, or `None` (missing, expiring,
 * corrupt or foreign: never an error).
 */
export const read = (
  directory: string,
  key: string
): Effect.Effect<Option.Option<CachedCredentials>, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const file = path.join(directory, `${key}.json`)
    // Through the one reader (no FIFO, no device, capped); anything unreadable is a miss here.
    const text = yield* readOptionalFile(file, { what: "AWS CLI cache file", kind: "token" }).pipe(
      Effect.tapError((error) => Effect.logDebug(`ignoring the AWS CLI cache file: ${error.message}`)),
      Effect.orElseSucceed(() => Option.none<string>())
    )
    if (Option.isNone(text)) return Option.none()
    const decoded = decodeCacheFile(text.value)
    if (Either.isLeft(decoded)) {
      yield* Effect.logDebug("ignoring an unreadable AWS CLI cache file").pipe(Effect.annotateLogs({ file }))
      return Option.none()
    }
    const credentials = decoded.right.Credentials
    const expiration = parseCliTimestamp(credentials.Expiration)
    if (Option.isNone(expiration)) {
      yield* Effect.logDebug("ignoring an AWS CLI cache file without a usable Expiration").pipe(
        Effect.annotateLogs({ file })
      )
      return Option.none()
    }
    const now = yield* Clock.currentTimeMillis
    if (DateTime.toEpochMillis(expiration.value) - now < expiryWindowMillis) return Option.none()
    return Option.some({
      accessKeyId: credentials.AccessKeyId,
      secretAccessKey: Redacted.make(credentials.SecretAccessKey),
      sessionToken: Redacted.make(credentials.SessionToken),
      expiration: expiration.value,
      accountId: credentials.AccountId ?? undefined,
      assumedRoleArn: decoded.right.AssumedRoleUser?.Arn
    })
  }).pipe(Effect.catchAllCause(() => Effect.succeed(Option.none())))

/**
 * Writes credentials for `key` atomically (temporary file, mode 0600, rename), in the file format
 * of the assume-role fetcher (default) or of the SSO one. Failures are logged at debug level and
 * otherwise ignored: the cache is an optimisation.
 */
export const write = (
  directory: string,
  key: string,
  credentials: CachedCredentials,
  format: Format = "assume-role"
): Effect.Effect<void, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(directory, { recursive: true, mode: 0o700 })
    const body: Record<string, unknown> = {
      ...(format === "sso" ? { ProviderType: "sso" } : {}),
      Credentials: {
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: Redacted.value(credentials.secretAccessKey),
        SessionToken: Redacted.value(credentials.sessionToken),
        Expiration: cliTimestamp(credentials.expiration, format),
        ...(credentials.accountId === undefined ? {} : { AccountId: credentials.accountId })
      },
      ...(credentials.assumedRoleArn === undefined ? {} : { AssumedRoleUser: { Arn: credentials.assumedRoleArn } })
    }
    const file = path.join(directory, `${key}.json`)
    const temporary = path.join(directory, `.${key}.${randomBytes(6).toString("hex")}.tmp`)
    yield* fs.writeFileString(temporary, JSON.stringify(body), { mode: 0o600 }).pipe(
      Effect.zipRight(fs.rename(temporary, file)),
      Effect.tapError(() => Effect.ignore(fs.remove(temporary)))
    )
  }).pipe(
    Effect.catchAllCause(() =>
      Effect.logDebug("could not write the AWS CLI cache").pipe(Effect.annotateLogs({ directory }))
    )
  )
