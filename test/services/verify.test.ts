/**
 * `explain` with `verify` against moto with signature verification on: STS GetCallerIdentity
 * signed with what the chain resolved tells a good key (its identity), a wrong secret
 * (`SignatureDoesNotMatch`, exit status 3), an unknown key (`InvalidClientTokenId`) and an assumed
 * role's credentials (the assumed-role ARN) apart.
 */
import { assert, beforeAll, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { explain, type Explanation, formatHuman } from "../../src/internal/explain.js"
import { platformLayer, type TempHome, tempHome, withEnv } from "../support/fixtures.js"
import { assertNoSecrets } from "../support/secrets.js"
import { accountId, type Keys, motoAvailable, motoMissingReason, useMoto } from "./moto.js"

const moto = useMoto()

const suite = motoAvailable ? describe : describe.skip
const suffix = motoAvailable ? "" : ` (skipped: ${motoMissingReason})`

let user: Keys
let roleArn: string

beforeAll(async () => {
  if (!motoAvailable) return
  const server = moto.current()
  user = await server.createUser("verifier")
  roleArn = await server.createRole("VerifyRole")
  await server.enableAuth()
}, 60_000)

const run = (home: TempHome, profile: string) =>
  explain({
    profile,
    verify: { timeout: "10 seconds", maxAttempts: 2 },
    chain: { botoConfig: { defaultPaths: [path.join(home.dir, "boto.cfg")] }, process: { timeout: "5 seconds" } }
  }).pipe(
    withEnv(home.env({ AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: moto.current().url })),
    Effect.provide(platformLayer)
  )

const keysFile = (profile: string, accessKeyId: string, secretAccessKey: string) =>
  `[${profile}]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`

const assertClean = (explanation: Explanation, secrets: ReadonlyArray<string>) => {
  assertNoSecrets(explanation.report, secrets)
  const human = formatHuman(explanation, DateTime.unsafeMake(0))
  for (const secret of secrets) assert.notInclude(human, secret)
}

suite(`explain --verify on moto with IAM auth${suffix}`, () => {
  it.scopedLive("a good key: the IAM user's identity, exit status 0", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials(keysFile("dev", user.accessKeyId, user.secretAccessKey))
      const explanation = yield* run(home, "dev")
      assert.strictEqual(explanation.exitCode, 0)
      assert.strictEqual(explanation.report.credentials?.source, "shared-credentials-file")
      assert.strictEqual(explanation.report.identity?.account, accountId)
      assert.strictEqual(explanation.report.identity?.arn, `arn:aws:iam::${accountId}:user/verifier`)
      assert.isNotEmpty(explanation.report.identity?.userId ?? "")
      assert.isUndefined(explanation.report.verification)
      assert.include(
        formatHuman(explanation, DateTime.unsafeMake(0)),
        `identity       account ${accountId}, arn arn:aws:iam::${accountId}:user/verifier`
      )
      assertClean(explanation, [user.secretAccessKey])
    }))

  it.scopedLive("a wrong secret: SignatureDoesNotMatch with the source and provenance, exit status 3", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const wrong = "wrongSecretForVerify/00000000000000000000001"
      home.writeCredentials(keysFile("dev", user.accessKeyId, wrong))
      const explanation = yield* run(home, "dev")
      assert.strictEqual(explanation.exitCode, 3)
      assert.isTrue(explanation.report.ok)
      assert.isNull(explanation.report.identity)
      assert.deepStrictEqual(explanation.report.verification, {
        code: "SignatureDoesNotMatch",
        outcome: "rejected",
        message: `STS GetCallerIdentity: SignatureDoesNotMatch: the secret key does not match access key ****************${
          user.accessKeyId.slice(-4)
        }, from profile dev in ${home.credentialsPath}:2 (shared-credentials-file)`
      })
      assertClean(explanation, [wrong, user.secretAccessKey])
    }))

  it.scopedLive("an unknown key: InvalidClientTokenId, exit status 3", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const secret = "unknownKeySecretForVerify/000000000000000001"
      home.writeCredentials(keysFile("dev", "AKIAUNKNOWNVERIFY001", secret))
      const explanation = yield* run(home, "dev")
      assert.strictEqual(explanation.exitCode, 3)
      assert.isNull(explanation.report.identity)
      assert.strictEqual(explanation.report.verification?.code, "InvalidClientTokenId")
      assert.strictEqual(explanation.report.verification?.outcome, "rejected")
      assert.include(
        explanation.report.verification?.message ?? "",
        "AWS does not know access key ****************Y001 (deleted, or from another partition), from profile dev"
      )
      assertClean(explanation, [secret])
    }))

  it.scopedLive("an assumed role's credentials: the assumed-role ARN, exit status 0", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig(`[profile dev]\nrole_arn = ${roleArn}\nsource_profile = base\nrole_session_name = verify-session\n`)
      home.writeCredentials(keysFile("base", user.accessKeyId, user.secretAccessKey))
      const explanation = yield* run(home, "dev")
      assert.strictEqual(explanation.exitCode, 0)
      assert.strictEqual(explanation.report.credentials?.source, "assume-role")
      assert.match(explanation.report.credentials?.accessKeyId ?? "", /^ASIA/)
      assert.strictEqual(explanation.report.identity?.arn, `arn:aws:sts::${accountId}:assumed-role/VerifyRole/verify-session`)
      assert.strictEqual(explanation.report.identity?.account, accountId)
      assertClean(explanation, [user.secretAccessKey])
    }))
})
