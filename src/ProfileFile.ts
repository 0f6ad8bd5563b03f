/**
 * The AWS shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`): where
 * they are, what they hold, and the profiles they define once merged.
 *
 * The parser follows the cross-SDK profile-parser test vectors rather than Python's
 * `configparser` (see the README for where botocore differs).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { CredentialsError } from "./CredentialsError.js"
import { readOptionalFile, stripBom } from "./internal/files.js"
import { locateFiles, mergeFiles, parseFile, subProperties as parseSubProperties } from "./internal/profileParser.js"

/**
 * Which of the two files a text comes from: their section headers differ (`[profile dev]` in
 * the config file, `[dev]` in the credentials file).
 *
 * @since 0.1.0
 * @category models
 */
export type FileKind = "config" | "credentials"

/**
 * The kinds of section a file defines.
 *
 * @since 0.1.0
 * @category models
 */
export type SectionKind = "profile" | "sso-session" | "services"

/**
 * One property as written: its value (for a property with sub-properties, the raw text, e.g.
 * `"\nname = value"`) and the 1-based line where its key was defined.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawProperty {
  readonly value: string
  readonly line: number
}

/**
 * One section of one file, as written.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawSection {
  readonly kind: SectionKind
  readonly name: string
  /** 1-based line of the (first) `[header]` of this section. */
  readonly line: number
  /** Keys lower-cased. */
  readonly properties: ReadonlyMap<string, RawProperty>
}

/**
 * One parsed file, before merging.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParsedFile {
  readonly kind: FileKind
  readonly path: string
  readonly sections: ReadonlyArray<RawSection>
}

/**
 * A property's value and where it was written.
 *
 * @since 0.1.0
 * @category models
 */
export interface Property {
  readonly value: string
  readonly path: string
  readonly line: number
  /**
   * The config-file value this credentials-file value overrides, if any: the merged view shows
   * the winner, but botocore's `config-file` source reads the config file alone.
   */
  readonly overridden?: Property | undefined
}

/**
 * A profile, `[sso-session]` or `[services]` section: its name and its properties (keys
 * lower-cased).
 *
 * @since 0.1.0
 * @category models
 */
export interface Section {
  readonly name: string
  readonly properties: ReadonlyMap<string, Property>
}

/**
 * Everything the two files define, merged (credentials-file values override config-file values
 * of the same profile).
 *
 * @since 0.1.0
 * @category models
 */
export interface ProfileSet {
  /** Merged from both files; credentials-file properties override config-file ones per key. */
  readonly profiles: ReadonlyMap<string, Section>
  /** Config file only. */
  readonly ssoSessions: ReadonlyMap<string, Section>
  /** Config file only. */
  readonly services: ReadonlyMap<string, Section>
}

/**
 * The environment `locate` reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocationEnv {
  readonly HOME?: string | undefined
  readonly USERPROFILE?: string | undefined
  readonly HOMEDRIVE?: string | undefined
  readonly HOMEPATH?: string | undefined
  readonly AWS_CONFIG_FILE?: string | undefined
  readonly AWS_SHARED_CREDENTIALS_FILE?: string | undefined
}

/**
 * A file's location and whether it was there.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileInfo {
  readonly path: string | undefined
  readonly exists: boolean
}

/**
 * The two files, read and merged.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoadedFiles {
  readonly configFile: FileInfo
  readonly credentialsFile: FileInfo
  readonly profiles: ProfileSet
}

/**
 * An empty set of profiles (no files).
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: ProfileSet = mergeFiles(undefined, undefined)

/**
 * Where the files are for a given environment: `AWS_CONFIG_FILE` and
 * `AWS_SHARED_CREDENTIALS_FILE` (with `~` expanded) or `~/.aws/config` and
 * `~/.aws/credentials`, home from `HOME` (and on Windows `USERPROFILE`, then
 * `HOMEDRIVE` + `HOMEPATH`).
 *
 * @since 0.1.0
 * @category location
 */
export const locate: (
  env: LocationEnv,
  platform: "linux" | "windows" | "darwin"
) => {
  readonly home: string | undefined
  readonly configFile: string | undefined
  readonly credentialsFile: string | undefined
} = locateFiles

/**
 * Parses one file's text. A syntax error is a `CredentialsError` with reason `MalformedFile`
 * naming the path and line.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (
  text: string,
  kind: "config" | "credentials",
  path: string
): Either.Either<ParsedFile, CredentialsError> =>
  Either.mapLeft(parseFile(stripBom(text), kind, path), (error) =>
    new CredentialsError({
      reason: "MalformedFile",
      path: error.path,
      line: error.line,
      detail: `cannot parse the ${kind} file: ${error.message}`
    }))

/**
 * Merges parsed files into profiles.
 *
 * @since 0.1.0
 * @category parsing
 */
export const merge: (
  config: ParsedFile | undefined,
  credentials: ParsedFile | undefined
) => ProfileSet = mergeFiles

/**
 * Parses the sub-properties of a property such as `s3 =\n  addressing_style = path`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const subProperties: (value: string) => ReadonlyMap<string, string> = parseSubProperties

const readAndParse = (path: string | undefined, kind: "config" | "credentials") =>
  Effect.gen(function*() {
    if (path === undefined) return { info: { path, exists: false }, parsed: undefined }
    const text = yield* readOptionalFile(path, { what: `${kind} file`, kind: "config" })
    if (Option.isNone(text)) return { info: { path, exists: false }, parsed: undefined }
    const parsed = yield* Either.match(parse(text.value, kind, path), {
      onLeft: (error) => Effect.fail(error),
      onRight: (file) => Effect.succeed(file)
    })
    return { info: { path, exists: true }, parsed }
  })

/**
 * Reads and merges both files. Missing files hold no profiles; a directory or an unreadable
 * file is `FileUnreadable`; a syntax error is `MalformedFile`.
 *
 * @since 0.1.0
 * @category loading
 */
export const load = (paths: {
  readonly configFile: string | undefined
  readonly credentialsFile: string | undefined
}): Effect.Effect<LoadedFiles, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const [config, credentials] = yield* Effect.all([
      readAndParse(paths.configFile, "config"),
      readAndParse(paths.credentialsFile, "credentials")
    ])
    return {
      configFile: config.info,
      credentialsFile: credentials.info,
      profiles: mergeFiles(config.parsed, credentials.parsed)
    }
  })

/**
 * A property of a section, if set (keys are case-insensitive).
 *
 * @since 0.1.0
 * @category accessors
 */
export const property = (section: Section, key: string): Option.Option<Property> =>
  Option.fromNullable(section.properties.get(key.toLowerCase()))

/**
 * A property's value, if set and not empty (nor only whitespace).
 *
 * @since 0.1.0
 * @category accessors
 */
export const value = (section: Section, key: string): Option.Option<string> =>
  Option.filter(Option.map(property(section, key), (p) => p.value), (v) => v.trim() !== "")
