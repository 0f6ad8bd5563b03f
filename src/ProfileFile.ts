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
import { expandHome, withoutTrailingSeparators } from "./internal/paths.js"


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


/** Where and why a file does not parse. */
interface SyntaxError {
  readonly line: number
  readonly message: string
}

// ---------------------------------------------------------------------------------------------
// Error messages (the vectors' `errorContaining` texts are substrings of these)
// ---------------------------------------------------------------------------------------------

const ParseErrorMessages = {
  headerUnterminated: "Profile definition must end with ']'",
  propertyOutsideSection: "Expected a profile definition",
  propertyWithoutEquals: "Expected an '=' sign defining a property",
  propertyWithoutName: "Property did not have a name",
  continuationWithoutProperty: "Expected a property definition, found continuation",
  subPropertyWithoutEquals: "Expected an '=' sign defining a sub-property",
  subPropertyWithoutName: "Sub-property did not have a name"
} as const


// ---------------------------------------------------------------------------------------------
// Lexical helpers
// ---------------------------------------------------------------------------------------------

const isWs = (ch: string | undefined): boolean => ch === " " || ch === "\t"

/** Trims spaces and tabs only (not the wider Unicode whitespace `String.prototype.trim` removes). */
const trimWs = (s: string): string => {
  let start = 0
  let end = s.length
  while (start < end && isWs(s[start])) start++
  while (end > start && isWs(s[end - 1])) end--
  return s.slice(start, end)
}

const trimWsEnd = (s: string): string => {
  let end = s.length
  while (end > 0 && isWs(s[end - 1])) end--
  return s.slice(0, end)
}

const isBlank = (line: string): boolean => {
  for (const ch of line) if (!isWs(ch)) return false
  return true
}

const isCommentChar = (ch: string | undefined): boolean => ch === "#" || ch === ";"

/** Section names: `A-Za-z0-9` and `- / . % @ _ : +`. */
const validName = /^[A-Za-z0-9\-/.%@_:+]+$/

/** A property name is ignored (not an error) when it contains whitespace. */
const invalidPropertyName = /\s/

/** Cuts a value at the first `#`/`;` that is preceded by a space or tab. */
const stripValueComment = (raw: string): string => {
  for (let i = 1; i < raw.length; i++) {
    if (isCommentChar(raw[i]) && isWs(raw[i - 1])) return raw.slice(0, i)
  }
  return raw
}

/** Cuts a header line at the first `#`/`;`, wherever it is. */
const stripHeaderComment = (line: string): string => {
  for (let i = 0; i < line.length; i++) {
    if (isCommentChar(line[i])) return line.slice(0, i)
  }
  return line
}

const splitLines = (text: string): Array<string> => {
  const body = stripBom(text)
  return body.split("\n").map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line))
}

// ---------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------

type HeaderTarget =
  | { readonly _tag: "Section"; readonly kind: SectionKind; readonly name: string; readonly bareDefault: boolean }
  | { readonly _tag: "Ignored" }

const ignored: HeaderTarget = { _tag: "Ignored" }

const prefixed = /^(profile|sso-session|services)[ \t]+(.*)$/

const classifyHeader = (inner: string, kind: FileKind): HeaderTarget => {
  if (kind === "credentials") {
    // The credentials file names profiles bare; `[profile foo]` there is not a profile.
    return validName.test(inner) ? { _tag: "Section", kind: "profile", name: inner, bareDefault: false } : ignored
  }
  if (inner === "default") {
    return { _tag: "Section", kind: "profile", name: "default", bareDefault: true }
  }
  const match = prefixed.exec(inner)
  if (match === null) return ignored
  const sectionKind = match[1] as SectionKind
  const name = trimWs(match[2] ?? "")
  return validName.test(name) ? { _tag: "Section", kind: sectionKind, name, bareDefault: false } : ignored
}

// ---------------------------------------------------------------------------------------------
// parseFile
// ---------------------------------------------------------------------------------------------

interface MutableProperty {
  value: string
  readonly line: number
  /** Decided when the property is defined: an empty value means indented lines are sub-properties. */
  readonly sub: boolean
}

interface MutableSection {
  readonly kind: SectionKind
  readonly name: string
  readonly line: number
  readonly properties: Map<string, MutableProperty>
}

const sectionKey = (kind: SectionKind, name: string, bareDefault: boolean): string =>
  bareDefault ? "bare-default" : `${kind}\u0000${name}`

/**
 * Parses one config or credentials file. Duplicate sections within the file merge (last value
 * per key wins); in the config file a bare `[default]` is dropped when `[profile default]`
 * appears anywhere in the file. Sections with invalid names or unknown prefixes are dropped
 * with their properties, without error. Errors carry the 1-based line and the path.
 */
const parseFile = (
  text: string,
  kind: FileKind,
  path: string
): Either.Either<ParsedFile, SyntaxError> => {
  const sections = new Map<string, MutableSection>()
  let sawProfileDefault = false
  /** undefined: no header yet; null: inside an ignored section. */
  let section: MutableSection | null | undefined = undefined
  /** The property indented lines continue; also set for ignored properties, so their continuations parse. */
  let current: MutableProperty | undefined = undefined

  const lines = splitLines(text)
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!
    const lineNumber = index + 1
    const fail = (message: string) => Either.left({ line: lineNumber, message })

    if (isBlank(line) || isCommentChar(line[0])) continue

    if (line[0] === "[") {
      const header = trimWsEnd(stripHeaderComment(line))
      if (!header.endsWith("]")) return fail(ParseErrorMessages.headerUnterminated)
      const target = classifyHeader(trimWs(header.slice(1, -1)), kind)
      current = undefined
      if (target._tag === "Ignored") {
        section = null
        continue
      }
      if (target.kind === "profile" && target.name === "default" && !target.bareDefault) sawProfileDefault = true
      const key = sectionKey(target.kind, target.name, target.bareDefault)
      let existing = sections.get(key)
      if (existing === undefined) {
        existing = { kind: target.kind, name: target.name, line: lineNumber, properties: new Map() }
        sections.set(key, existing)
      }
      section = existing
      continue
    }

    if (isWs(line[0])) {
      if (section === undefined) return fail(ParseErrorMessages.propertyOutsideSection)
      if (current === undefined) return fail(ParseErrorMessages.continuationWithoutProperty)
      const content = trimWs(line)
      if (current.sub) {
        const eq = content.indexOf("=")
        if (eq === -1) return fail(ParseErrorMessages.subPropertyWithoutEquals)
        if (trimWs(content.slice(0, eq)) === "") return fail(ParseErrorMessages.subPropertyWithoutName)
      }
      current.value = `${current.value}\n${content}`
      continue
    }

    if (section === undefined) return fail(ParseErrorMessages.propertyOutsideSection)
    const eq = line.indexOf("=")
    if (eq === -1) return fail(ParseErrorMessages.propertyWithoutEquals)
    const name = trimWs(line.slice(0, eq))
    if (name === "") return fail(ParseErrorMessages.propertyWithoutName)
    const value = trimWs(stripValueComment(line.slice(eq + 1)))
    const property: MutableProperty = { value, line: lineNumber, sub: value === "" }
    current = property
    if (section !== null && !invalidPropertyName.test(name)) {
      section.properties.set(name.toLowerCase(), property)
    }
  }

  const result: Array<RawSection> = []
  for (const [key, mutable] of sections) {
    if (key === "bare-default" && sawProfileDefault) continue
    const properties = new Map<string, RawProperty>()
    for (const [name, property] of mutable.properties) {
      properties.set(name, makeProperty(name, { value: property.value, line: property.line }))
    }
    result.push({ kind: mutable.kind, name: mutable.name, line: mutable.line, properties })
  }
  return Either.right({ kind, path, sections: result })
}

// ---------------------------------------------------------------------------------------------
// mergeFiles
// ---------------------------------------------------------------------------------------------

/** Profile keys whose values are secrets. */
const secretKeys: ReadonlySet<string> = new Set(["aws_secret_access_key", "aws_session_token", "aws_security_token"])

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom")

/**
 * A property as a plain object; for a secret key, one whose value is a non-enumerable getter and
 * which prints and serializes with the value redacted (`console.log`, `util.inspect` even
 * without custom inspection, `JSON.stringify`, Effect's `Inspectable`), so that a session or a
 * parsed file logged whole shows no secret. `property.value` still reads it.
 */
const makeProperty = <P extends { readonly value: string }>(key: string, property: P): P => {
  if (!secretKeys.has(key)) return property
  const { value, ...rest } = property
  const shown = () => ({ ...rest, value: "<redacted>" })
  // `value` is defined below as a getter, which the type of `defineProperties` cannot see.
  return Object.defineProperties({ ...rest }, {
    value: { get: () => value, enumerable: false },
    toJSON: { value: shown, enumerable: false },
    [inspectSymbol]: { value: shown, enumerable: false }
  }) as P
}

/**
 * Combines the parsed config and credentials files. Profiles come from both: for each profile
 * the config file's properties first, then the credentials file's override them key by key.
 * `sso-session` and `services` sections come from the config file only. Every property keeps
 * the path and line its winning value came from.
 */
const mergeFiles = (config: ParsedFile | undefined, credentials: ParsedFile | undefined): ProfileSet => {
  const profiles = new Map<string, Map<string, Property>>()
  const ssoSessions = new Map<string, Map<string, Property>>()
  const services = new Map<string, Map<string, Property>>()

  const absorb = (into: Map<string, Map<string, Property>>, file: ParsedFile, section: RawSection) => {
    let properties = into.get(section.name)
    if (properties === undefined) {
      properties = new Map()
      into.set(section.name, properties)
    }
    for (const [key, raw] of section.properties) {
      const previous = properties.get(key)
      // A value from the other file is kept behind the winner; a repeat in the same file just wins.
      const overridden = previous === undefined || previous.path === file.path ? previous?.overridden : previous
      properties.set(
        key,
        makeProperty(key, {
          value: raw.value,
          path: file.path,
          line: raw.line,
          ...(overridden === undefined ? {} : { overridden })
        })
      )
    }
  }

  if (config !== undefined) {
    for (const section of config.sections) {
      switch (section.kind) {
        case "profile":
          absorb(profiles, config, section)
          break
        case "sso-session":
          absorb(ssoSessions, config, section)
          break
        case "services":
          absorb(services, config, section)
          break
      }
    }
  }
  if (credentials !== undefined) {
    for (const section of credentials.sections) {
      if (section.kind === "profile") absorb(profiles, credentials, section)
    }
  }

  const freeze = (from: Map<string, Map<string, Property>>): ReadonlyMap<string, Section> => {
    const out = new Map<string, Section>()
    for (const [name, properties] of from) out.set(name, { name, properties })
    return out
  }
  return { profiles: freeze(profiles), ssoSessions: freeze(ssoSessions), services: freeze(services) }
}

// ---------------------------------------------------------------------------------------------
// subProperties
// ---------------------------------------------------------------------------------------------

/**
 * Parses the sub-properties of a property value such as "\nendpoint_url = http://x\nregion = y"
 * into a lower-cased key map; values trimmed. Lines without `=` or without a name are skipped
 * (the parser has already rejected them in a file); the last definition of a key wins.
 */
const parseSubProperties = (value: string): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  for (const rawLine of value.split("\n")) {
    const line = trimWs(rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine)
    if (line === "") continue
    const eq = line.indexOf("=")
    if (eq === -1) continue
    const name = trimWs(line.slice(0, eq))
    if (name === "") continue
    out.set(name.toLowerCase(), trimWs(line.slice(eq + 1)))
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// locateFiles
// ---------------------------------------------------------------------------------------------

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === "" ? undefined : value

const homeDirectory = (env: LocationEnv, windows: boolean): string | undefined => {
  const home = nonEmpty(env.HOME)
  if (home !== undefined || !windows) return home
  const profile = nonEmpty(env.USERPROFILE)
  if (profile !== undefined) return profile
  const homePath = nonEmpty(env.HOMEPATH)
  if (homePath === undefined) return undefined
  return `${nonEmpty(env.HOMEDRIVE) ?? ""}${homePath}`
}

/**
 * Where the config and credentials files are, per the file-location vectors: the home
 * directory is `HOME`, and on Windows then `USERPROFILE`, then `HOMEDRIVE` + `HOMEPATH`.
 * `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE` override the defaults; a leading "~/" (or
 * "~\" on Windows, or a bare "~") in them expands to the home directory. Empty-string
 * variables count as unset. Without a home directory the default paths are undefined.
 */
const locateFiles = (
  env: LocationEnv,
  platform: "linux" | "windows" | "darwin"
): {
  readonly home: string | undefined
  readonly configFile: string | undefined
  readonly credentialsFile: string | undefined
} => {
  const windows = platform === "windows"
  const sep = windows ? "\\" : "/"
  const home = homeDirectory(env, windows)
  const defaultPath = (file: string): string | undefined =>
    home === undefined ? undefined : [withoutTrailingSeparators(home, windows), ".aws", file].join(sep)
  const resolve = (override: string | undefined, file: string): string | undefined => {
    const explicit = nonEmpty(override)
    return explicit === undefined ? defaultPath(file) : expandHome(explicit, home, windows)
  }
  return {
    home,
    configFile: resolve(env.AWS_CONFIG_FILE, "config"),
    credentialsFile: resolve(env.AWS_SHARED_CREDENTIALS_FILE, "credentials")
  }
}

// ---------------------------------------------------------------------------------------------
// The public operations
// ---------------------------------------------------------------------------------------------

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
  Either.mapLeft(parseFile(text, kind, path), (error) =>
    new CredentialsError({
      reason: "MalformedFile",
      path,
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
