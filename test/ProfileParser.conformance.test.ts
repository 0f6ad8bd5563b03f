import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as ProfileFile from "../src/ProfileFile.js"
import type { Section } from "../src/ProfileFile.js"
import { missingReason, readVector, vectorsAvailable } from "./support/vectors.js"

/**
 * The cross-SDK vectors from smithy-rs, read at run time (never copied into the repository):
 * `aws-runtime/test-data/profile-parser-tests.json` and `file-location-tests.json`.
 */

type PlainSections = Record<string, Record<string, string>>

interface ParserCase {
  readonly name: string
  readonly input: { readonly configFile?: string; readonly credentialsFile?: string }
  readonly output:
    | { readonly config: { readonly profiles: PlainSections; readonly sso_sessions?: PlainSections } }
    | { readonly errorContaining: string }
}

interface LocationCase {
  readonly name: string
  readonly environment: Record<string, string>
  readonly platform: "linux" | "windows"
  readonly profile?: string
  readonly configLocation: string
  readonly credentialsLocation: string
}

const loadCases = <A>(relative: string): ReadonlyArray<A> =>
  vectorsAvailable ? (JSON.parse(readVector(relative)) as { tests: ReadonlyArray<A> }).tests : []

const parserCases = loadCases<ParserCase>("aws-runtime/test-data/profile-parser-tests.json")
const locationCases = loadCases<LocationCase>("aws-runtime/test-data/file-location-tests.json")

const toPlain = (sections: ReadonlyMap<string, Section>): PlainSections => {
  const out: PlainSections = {}
  for (const [name, section] of sections) {
    const properties: Record<string, string> = {}
    for (const [key, property] of section.properties) properties[key] = property.value
    out[name] = properties
  }
  return out
}

/** Parses whichever files the case provides; the first error wins. */
const runCase = (input: ParserCase["input"]) => {
  const parse = (text: string | undefined, kind: "config" | "credentials") =>
    text === undefined ? Either.right(undefined) : ProfileFile.parse(text, kind, `~/.aws/${kind}`)
  return Either.flatMap(
    parse(input.configFile, "config"),
    (config) => Either.map(parse(input.credentialsFile, "credentials"), (credentials) => ProfileFile.merge(config, credentials))
  )
}

const results = {
  parser: { passed: 0 },
  location: { passed: 0, linux: 0, windows: 0 }
}

const suite = vectorsAvailable ? describe : describe.skip
const suffix = vectorsAvailable ? "" : ` (skipped: ${missingReason})`

suite(`profile-parser-tests.json${suffix}`, () => {
  // Keeps the skipped suite (and its reason) visible in the report when there are no vectors.
  if (!vectorsAvailable) it(missingReason, () => {})
  parserCases.forEach((testCase, index) => {
    it(`${index}: ${testCase.name}`, () => {
      const result = runCase(testCase.input)
      const output = testCase.output
      if ("errorContaining" in output) {
        assert.isTrue(Either.isLeft(result), `expected an error containing ${JSON.stringify(output.errorContaining)}`)
        if (Either.isLeft(result)) {
          assert.include(result.left.message, output.errorContaining)
          assert.isAtLeast(result.left.line ?? 0, 1)
        }
      } else {
        if (Either.isLeft(result)) {
          assert.fail(`unexpected error at line ${result.left.line}: ${result.left.message}`)
        } else {
          const expected = output.config
          const actual: { profiles: PlainSections; sso_sessions?: PlainSections } = {
            profiles: toPlain(result.right.profiles)
          }
          if (expected.sso_sessions !== undefined) actual.sso_sessions = toPlain(result.right.ssoSessions)
          assert.deepStrictEqual(actual, expected)
        }
      }
      results.parser.passed++
    })
  })
})

suite(`file-location-tests.json${suffix}`, () => {
  if (!vectorsAvailable) it(missingReason, () => {})
  locationCases.forEach((testCase, index) => {
    it(`${index}: [${testCase.platform}] ${testCase.name}`, () => {
      const located = ProfileFile.locate(testCase.environment, testCase.platform)
      assert.deepStrictEqual(
        { configLocation: located.configFile, credentialsLocation: located.credentialsFile },
        { configLocation: testCase.configLocation, credentialsLocation: testCase.credentialsLocation }
      )
      results.location.passed++
      results.location[testCase.platform]++
    })
  })
})

afterAll(() => {
  if (!vectorsAvailable) return
  const { location, parser } = results
  console.log(
    `profile-parser vectors: ${parser.passed}/${parserCases.length} passed; ` +
      `file-location vectors: ${location.passed}/${locationCases.length} passed ` +
      `(${location.linux} linux, ${location.windows} windows)`
  )
})
