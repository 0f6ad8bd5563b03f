import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as ProfileFile from "../src/ProfileFile.js"
import * as ProfileChain from "../src/internal/profileChain.js"
import { missingReason, readVector, vectorsAvailable } from "./support/vectors.js"

/**
 * `aws-config/test-data/assume-role-tests.json` from smithy-rs (28 cases: 13 chains, 15 errors),
 * run against `profileChain.resolve`. Chains must match the expected rows exactly; errors are
 * Rust message fragments, mapped here to our error class and reason.
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
          assert.strictEqual(result.left._tag, tag, result.left.message)
          if (result.left._tag === "CredentialsError") {
            assert.strictEqual(result.left.reason, reason, result.left.message)
            // Every error names the profile it is about.
            assert.isDefined(result.left.profile)
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
