/**
 * The INI dialect of Python's `configparser.RawConfigParser` with its defaults, which is how
 * botocore reads boto's config file (`~/.boto`, `/etc/boto.cfg`): `=` or `:` delimiters,
 * full-line `#` and `;` comments (leading whitespace allowed), no inline comments, indented
 * lines continue a value, lower-cased keys, case-sensitive section names, and (strict mode)
 * duplicate sections or keys are errors.
 */
import * as Either from "effect/Either"

export interface IniError {
  readonly line: number
  readonly message: string
}

export type IniSections = ReadonlyMap<string, ReadonlyMap<string, { readonly value: string; readonly line: number }>>

export const parse = (text: string): Either.Either<IniSections, IniError> => {
  const sections = new Map<string, Map<string, { value: string; line: number }>>()
  let section: Map<string, { value: string; line: number }> | undefined
  let current: { key: string; indent: number; lines: Array<string>; line: number } | undefined
  const lines = text.split(/\r\n|\n|\r/)

  const flush = () => {
    if (current !== undefined && section !== undefined) {
      // configparser keeps blank lines inside a value but drops trailing ones.
      while (current.lines.length > 1 && current.lines[current.lines.length - 1] === "") current.lines.pop()
      section.set(current.key, { value: current.lines.join("\n"), line: current.line })
    }
    current = undefined
  }

  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index]!
    const lineNumber = index + 1
    const stripped = raw.trim()
    if (stripped.startsWith("#") || stripped.startsWith(";")) continue
    const indent = raw.length - raw.trimStart().length
    if (stripped === "") {
      if (current !== undefined) current.lines.push("")
      continue
    }
    if (current !== undefined && indent > current.indent) {
      current.lines.push(stripped)
      continue
    }
    flush()
    const header = /^\[(.+)\]/.exec(stripped)
    if (header !== null) {
      const name = header[1]!
      if (sections.has(name)) {
        return Either.left({ line: lineNumber, message: `section [${name}] is defined twice` })
      }
      section = new Map()
      sections.set(name, section)
      continue
    }
    if (section === undefined) {
      return Either.left({ line: lineNumber, message: "a line appears before any [section] header" })
    }
    const delimiter = /[=:]/.exec(stripped)
    if (delimiter === null) {
      return Either.left({ line: lineNumber, message: "expected 'key = value' (or 'key: value')" })
    }
    const key = stripped.slice(0, delimiter.index).trim().toLowerCase()
    if (key === "") {
      return Either.left({ line: lineNumber, message: "a property has no name" })
    }
    if (section.has(key)) {
      return Either.left({ line: lineNumber, message: `the key ${key} is defined twice in its section` })
    }
    current = { key, indent, lines: [stripped.slice(delimiter.index + 1).trim()], line: lineNumber }
  }
  flush()
  return Either.right(sections)
}
