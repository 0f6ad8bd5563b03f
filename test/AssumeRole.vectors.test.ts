import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as ProfileFile from "../src/ProfileFile.js"
import * as ProfileChain from "../src/internal/profileChain.js"
import { missingReason, readVector, vectorsAvailable } from "./support/vectors.js"

/**
 * `aws-config/test-data/assume-role-tests.json` from smithy-rs (28 cases: 13 chains, 15 errors),
 * run against `profileChain.resolve`. Chains must match the expected rows exactly; errors are
 * Rust message fragments, mapped here to our error class and reason, and our message must name
 * what the fragment names (see `mustName`).
 */

type Plain = Record<string, Record<string, string>>

interface Case {
  readonly docs: string
  readonly input: {
    readonly profiles: Plain
    readonly selected_profile: string
    readonly sso_sessions?: Plain
  }
  readonly output: { readonly ProfileChain: ReadonlyArray<unknown> } | { readonly Error: string }
}

const cases: ReadonlyArray<Case> = vectorsAvailable
  ? JSON.parse(readVector("aws-config/test-data/assume-role-tests.json"))
  : []

/** Each expected Rust error fragment, and what we fail with instead. */
const expectedErrors: ReadonlyArray<readonly [fragment: string, tag: string, reason?: string]> = [
  ["profile must contain `source_profile`", "CredentialsError", "InvalidConfiguration"],
  ["profile contained both source_profile and credential_source", "CredentialsError", "InvalidConfiguration"],
  ["profile missing aws_secret_access_key", "CredentialsError", "PartialCredentials"],
  ["profile missing aws_access_key_id", "CredentialsError", "PartialCredentials"],
  // A source profile without credentials is broken; the selected profile without any has nothing
  // configured for this source, so the chain moves on.
  ["profile `B` did not contain credential information", "CredentialsError", "InvalidConfiguration"],
  ["profile `A` did not contain credential information", "CredentialsUnavailable"],
  ["could not find source profile", "CredentialsError", "ProfileNotFound"],
  ["No profiles were defined", "CredentialsError", "ProfileNotFound"],
  ["profile formed an infinite loop", "CredentialsError", "InfiniteLoop"],
  ["`role_arn` was missing", "CredentialsError", "InvalidConfiguration"],
  ["must also be set", "CredentialsError", "InvalidConfiguration"],
  ["can only be specified in the [sso-session] config", "CredentialsError", "InvalidConfiguration"],
  ["was not found", "CredentialsError", "InvalidConfiguration"]
]

const sections = (plain: Plain | undefined): ReadonlyMap<string, ProfileFile.Section> => {
  const out = new Map<string, ProfileFile.Section>()
  for (const [name, properties] of Object.entries(plain ?? {})) {
    const map = new Map<string, ProfileFile.Property>()
    Object.entries(properties).forEach(([key, value], index) =>
      map.set(key, { value, path: "assume-role-tests.json", line: index + 1 })
    )
    out.set(name, { name, properties: map })
  }
  return out
}

const defined = (record: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(record).filter((entry): entry is [string, string] => entry[1] !== undefined))

/** Our plan in the vectors' `ProfileChain` notation. */
const toRows = (plan: ProfileChain.Plan): ReadonlyArray<unknown> => {
  const root = plan.root
  const first = (() => {
    switch (root._tag) {
      case "AccessKey":
        return {
          AccessKey: defined({
            access_key_id: root.accessKeyId,
            secret_access_key: Redacted.value(root.secretAccessKey),
            session_token: root.sessionToken === undefined ? undefined : Redacted.value(root.sessionToken),
            account_id: root.accountId
          })
        }
      case "NamedSource":
        return { NamedSource: root.name }
      case "WebIdentity":
        return {
          WebIdentityToken: defined({
            role_arn: root.roleArn,
            web_identity_token_file: root.tokenFile,
            role_session_name: root.sessionName
          })
        }
      case "Sso":
        return {
          Sso: defined({
            sso_session: root.ssoSession,
            sso_region: root.ssoRegion,
            sso_start_url: root.ssoStartUrl,
            sso_account_id: root.ssoAccountId,
            sso_role_name: root.ssoRoleName
          })
        }
      case "Login":
        return { Login: { login_session: root.loginSession } }
      case "Process":
        return { CredentialProcess: root.command }
    }
  })()
  return [
    first,
    ...plan.roles.map((role) => ({
      AssumeRole: defined({ role_arn: role.roleArn, external_id: role.externalId, role_session_name: role.sessionName })
    }))
  ]
}

/** Every profile a case defines, selects or names as a `source_profile`. */
const profileNames = (testCase: Case): ReadonlySet<string> =>
  new Set([
    testCase.input.selected_profile,
    ...Object.keys(testCase.input.profiles),
    ...Object.values(testCase.input.profiles).flatMap((properties) =>
      properties.source_profile === undefined ? [] : [properties.source_profile]
    )
  ])

/** Following `source_profile` from the selected profile: the loop it runs into, e.g. `[A, B, A]`. */
const sourceProfileLoop = (testCase: Case): ReadonlyArray<string> | undefined => {
  const path = [testCase.input.selected_profile]
  while (true) {
    const next = testCase.input.profiles[path.at(-1)!]?.source_profile
    if (next === undefined) return undefined
    const seen = path.indexOf(next)
    path.push(next)
    if (seen >= 0) return path.slice(seen)
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
/** `name` as a whole word (not part of a longer name or key). */
const word = (name: string) => new RegExp(`(?<![\\w-])${escape(name)}(?![\\w-])`)
/** `name` as the name of a profile: `profile B`, `profile \`B\``, `source profile B`. */
const profileWord = (name: string) => new RegExp(`profile \`?${escape(name)}\`?(?![\\w-])`)

/**
 * What our message must name, read from the case: every profile, key and session the vector's own
 * error names (`B`, `aws_secret_access_key`, `oops`: the words that are profile names, contain an
 * underscore or are in backquotes), and for a loop, its path.
 */
const mustName = (testCase: Case, expected: string): ReadonlyArray<readonly [what: string, pattern: RegExp]> => {
  const profiles = profileNames(testCase)
  const quoted = new Set([...expected.matchAll(/`([^`]+)`/g)].map((match) => match[1]!))
  const names: Array<readonly [string, RegExp]> = []
  for (const token of new Set(expected.match(/[\w-]+/g) ?? [])) {
    if (profiles.has(token)) names.push([`profile ${token}`, profileWord(token)])
    else if (token.includes("_") || quoted.has(token)) names.push([token, word(token)])
  }
  if (/infinite loop/.test(expected)) {
    const loop = sourceProfileLoop(testCase)
    assert.isDefined(loop, `a loop, says the vector, but source_profile from ${testCase.input.selected_profile} ends`)
    names.push([`the loop ${loop!.join(" -> ")}`, new RegExp(escape(loop!.join(" -> ")))])
  }
  return names
}

const results = { passed: 0, chains: 0, errors: 0 }

const suite = vectorsAvailable ? describe : describe.skip
const suffix = vectorsAvailable ? "" : ` (skipped: ${missingReason})`

suite(`assume-role-tests.json${suffix}`, () => {
  if (!vectorsAvailable) it(missingReason, () => {})
  cases.forEach((testCase, index) => {
    it(`${index}: ${testCase.docs}`, () => {
      const result = ProfileChain.resolve({
        profiles: {
          profiles: sections(testCase.input.profiles),
          ssoSessions: sections(testCase.input.sso_sessions),
          services: new Map()
        },
        selected: testCase.input.selected_profile
      })
      const output = testCase.output
      if ("Error" in output) {
        const expected = expectedErrors.find(([fragment]) => output.Error.includes(fragment))
        assert.isDefined(expected, `no mapping for the vector error "${output.Error}"`)
        if (Either.isRight(result)) {
          assert.fail(`expected ${expected?.[1]} for "${output.Error}", got ${JSON.stringify(toRows(result.right))}`)
        } else {
          const [, tag, reason] = expected!
          const { message } = result.left
          assert.strictEqual(result.left._tag, tag, message)
          if (result.left._tag === "CredentialsError") {
            assert.strictEqual(result.left.reason, reason, message)
            // Every error is about one of the case's profiles, and its message says which.
            const profile = result.left.profile ?? ""
            assert.isTrue(profileNames(testCase).has(profile), `profile ${profile} is not one of the case's`)
            assert.match(message, profileWord(profile))
          }
          for (const [what, pattern] of mustName(testCase, output.Error)) {
            assert.match(message, pattern, `the message does not name ${what} (vector: "${output.Error}")`)
          }
        }
        results.errors++
      } else {
        if (Either.isLeft(result)) assert.fail(`unexpected ${result.left._tag}: ${result.left.message}`)
        else assert.deepStrictEqual(toRows(result.right), output.ProfileChain)
        results.chains++
      }
      results.passed++
    })
  })
})

afterAll(() => {
  if (!vectorsAvailable) return
  const total = cases.length
  const chains = cases.filter((c) => "ProfileChain" in c.output).length
  console.log(
    `assume-role vectors: ${results.passed}/${total} passed ` +
      `(${results.chains}/${chains} chains, ${results.errors}/${total - chains} errors)`
  )
})
