/**
 * Roles assumed in code (`AssumeRole.layerFromArn`) against the loopback STS
 * (test/support/stsServer.ts): the request sent and who signed it, provenance, the checks made
 * when the layer is built, refresh with the parent's current credentials, two roles side by side
 * in one program, MFA, and no secret in any error.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { AwsCredentials, layerStatic, make as makeService } from "../src/AwsCredentials.js"
import * as Credentials from "../src/Credentials.js"
import { CredentialsError } from "../src/CredentialsError.js"
import * as MfaTokenProvider from "../src/MfaTokenProvider.js"
import * as SigningCredentials from "../src/internal/signingCredentials.js"
import * as AssumeRole from "../src/providers/AssumeRole.js"
import { getFailure, getSuccess, resolveWith, runWith, type TempHome, tempHome, withEnv } from "./support/fixtures.js"
import { assertNoSecrets } from "./support/secrets.js"
import * as StsServer from "./support/stsServer.js"

const parentSecret = "parentSecretKeyNeverPrinted0000000000001"
const parentToken = "parentSessionTokenNeverPrinted000000001"
const Parent = layerStatic({
  accessKeyId: "AKIAPARENT0000000001",
  secretAccessKey: parentSecret,
  sessionToken: parentToken,
  provenance: "static parent keys"
})
const audit = "arn:aws:iam::111111111111:role/Audit"
const backup = "arn:aws:iam::222222222222:role/ops/Backup"

/** An empty home, region us-east-1, STS on loopback. */
const envFor = (home: TempHome, sts: StsServer.StsServer) =>
  home.env({ AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: sts.url })

const secretsOf = (sts: StsServer.StsServer) => sts.issued.flatMap((c) => [c.secretAccessKey, c.sessionToken])

describe("AssumeRole.layerFromArn", () => {
  it.scoped("assumes the role with the parent's credentials and says so in the provenance", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const layer = AssumeRole.layerFromArn({
        roleArn: audit,
        externalId: "ext-1234",
        policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }] },
        tags: { team: "audit", cost: "42" }
      }).pipe(Layer.provide(Parent))
      const resolved = getSuccess(yield* resolveWith(layer, { env: envFor(home, sts) }))
      const { credentials } = resolved
      const [call] = sts.calls("AssumeRole")
      assert.lengthOf(sts.calls("AssumeRole"), 1)
      // Signed with the parent's key and token, for the session's region.
      assert.strictEqual(call?.accessKeyId, "AKIAPARENT0000000001")
      assert.strictEqual(call?.sessionToken, parentToken)
      assert.strictEqual(call?.signingRegion, "us-east-1")
      assert.deepStrictEqual(
        [call?.params.RoleArn, call?.params.RoleSessionName, call?.params.DurationSeconds, call?.params.ExternalId],
        [audit, "botocore-session-0", "3600", "ext-1234"]
      )
      assert.deepStrictEqual(JSON.parse(call?.params.Policy ?? "null").Statement[0].Action, "s3:GetObject")
      assert.deepStrictEqual(
        [call?.params["Tags.member.1.Key"], call?.params["Tags.member.1.Value"], call?.params["Tags.member.2.Key"]],
        ["team", "audit", "cost"]
      )
      assert.strictEqual(credentials.source, "assume-role")
      assert.strictEqual(credentials.accessKeyId, sts.issued[0]?.accessKeyId)
      assert.deepStrictEqual(credentials.accountId._tag === "Some" ? credentials.accountId.value : null, "111111111111")
      // STS's assumed-role user: what a refused request names (signingCredentials.ts).
      assert.deepStrictEqual(Option.getOrNull(credentials.arn), "arn:aws:sts::111111111111:assumed-role/Audit/botocore-session-0")
      assert.strictEqual(SigningCredentials.fromCredentials(credentials).arn, "arn:aws:sts::111111111111:assumed-role/Audit/botocore-session-0")
      assert.isTrue(
        credentials.provenance.startsWith(`assume-role ${audit} from static parent keys, via STS us-east-1 (`),
        credentials.provenance
      )
      assert.include(credentials.provenance, "AWS_ENDPOINT_URL_STS")
      assert.deepStrictEqual(resolved.attempts.map((a) => [a.source, a.outcome]), [["assume-role", "resolved"]])
      assertNoSecrets(credentials, [parentSecret, parentToken, ...secretsOf(sts)])
    }))

  it.scoped("on a static key with no session in the context: STS where the environment sends it", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const layer = AssumeRole.layerFromArn({ roleArn: audit }).pipe(Layer.provide(Parent))
      const credentials = yield* Effect.flatMap(AwsCredentials, (service) => service.get).pipe(
        Effect.provide(layer),
        withEnv(envFor(home, sts))
      )
      assert.strictEqual(credentials.source, "assume-role")
      assert.strictEqual(credentials.accessKeyId, sts.issued[0]?.accessKeyId)
      assert.strictEqual(sts.calls("AssumeRole")[0]?.signingRegion, "us-east-1")
    }))

  it.scoped("a role from a role: each layer signs with the credentials of the one below", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const layer = AssumeRole.layerFromArn({ roleArn: backup, roleSessionName: "nightly" }).pipe(
        Layer.provide(AssumeRole.layerFromArn({ roleArn: audit, roleSessionName: "first-hop" })),
        Layer.provide(Parent)
      )
      const { credentials } = getSuccess(yield* resolveWith(layer, { env: envFor(home, sts) }))
      const [first, second] = sts.calls("AssumeRole")
      assert.strictEqual(first?.accessKeyId, "AKIAPARENT0000000001")
      assert.strictEqual(second?.accessKeyId, sts.issued[0]?.accessKeyId)
      assert.strictEqual(second?.sessionToken, sts.issued[0]?.sessionToken)
      assert.strictEqual(second?.params.RoleSessionName, "nightly")
      assert.match(
        credentials.provenance,
        new RegExp(`^assume-role ${backup} from assume-role ${audit} from static parent keys, via STS .*, via STS `)
      )
    }))

  it.scoped("options STS would refuse fail the layer while it is built, before any STS call", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const cases: ReadonlyArray<readonly [AssumeRole.FromArnOptions, string]> = [
        [{ roleArn: "Audit" }, "is not an IAM role ARN"],
        [{ roleArn: audit, durationSeconds: 60 }, "durationSeconds must be an integer from 900 to 43200, not 60"],
        [{ roleArn: audit, durationSeconds: 1800.5 }, "not 1800.5"],
        [{ roleArn: audit, roleSessionName: "x" }, "roleSessionName must be 2 to 64 characters long"],
        [{ roleArn: audit, roleSessionName: "has space" }, "roleSessionName may only contain"],
        [{ roleArn: audit, tags: [{ Key: "", Value: "v" }] }, "non-empty Key"],
        [{ roleArn: audit, mfa: { serialNumber: "" } }, "mfa.serialNumber is empty"]
      ]
      for (const [options, expected] of cases) {
        const error = getFailure(
          yield* resolveWith(AssumeRole.layerFromArn(options).pipe(Layer.provide(Parent)), { env: envFor(home, sts) })
        )
        assert.instanceOf(error, CredentialsError)
        assert.strictEqual(error.reason, "InvalidConfiguration")
        assert.include(error.message, "assume-role: AssumeRole.layerFromArn: ")
        assert.include(error.message, expected)
      }
      assert.lengthOf(sts.requests, 0)
    }))

  it.scoped("STS refusing fails the build with the code and a hint; a failing parent keeps its reason", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      sts.inject(StsServer.Fault.accessDenied)
      const layer = AssumeRole.layerFromArn({ roleArn: audit, maxAttempts: 1 }).pipe(Layer.provide(Parent))
      const exit = yield* resolveWith(layer, { env: envFor(home, sts) })
      const refused = getFailure(exit)
      assert.strictEqual(refused.reason, "ServiceError")
      assert.include(refused.message, "answered AccessDenied (HTTP 403) to AssumeRole")
      assertNoSecrets(exit, [parentSecret, parentToken])

      const broken = new CredentialsError({ source: "custom-process", reason: "ProcessFailed", detail: "exit status 3" })
      const failingParent = Layer.succeed(AwsCredentials, makeService({ get: Effect.fail(broken) }))
      const parentFailed = getFailure(
        yield* resolveWith(AssumeRole.layerFromArn({ roleArn: audit }).pipe(Layer.provide(failingParent)), {
          env: envFor(home, sts)
        })
      )
      assert.strictEqual(parentFailed.reason, "ProcessFailed")
      assert.strictEqual(parentFailed.source, "assume-role")
      assert.include(parentFailed.message, `the credentials to assume ${audit} with failed: custom-process: exit status 3`)
      // The parent's error itself (Effect may hand it back behind a proxy carrying its span).
      assert.instanceOf(parentFailed.cause, CredentialsError)
      assert.strictEqual((parentFailed.cause as CredentialsError).message, broken.message)
      assert.lengthOf(sts.calls("AssumeRole"), 1)
    }))

  it.scoped("MFA: the code from mfa.tokenCode, else from MfaTokenProvider, else MfaRequired", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = envFor(home, sts)
      const serialNumber = "arn:aws:iam::111111111111:mfa/alice"
      const given = yield* resolveWith(
        AssumeRole.layerFromArn({ roleArn: audit, mfa: { serialNumber, tokenCode: Effect.succeed(" 123456 ") } }).pipe(
          Layer.provide(Parent)
        ),
        { env }
      )
      getSuccess(given)
      assert.deepStrictEqual(
        [sts.calls("AssumeRole")[0]?.params.SerialNumber, sts.calls("AssumeRole")[0]?.params.TokenCode],
        [serialNumber, "123456"]
      )
      assertNoSecrets(given, ["123456"])

      const requests = yield* Ref.make<ReadonlyArray<MfaTokenProvider.Request>>([])
      const provider = MfaTokenProvider.layer((request) => Effect.as(Ref.update(requests, (all) => [...all, request]), "654321"))
      getSuccess(
        yield* resolveWith(
          AssumeRole.layerFromArn({ roleArn: audit, mfa: { serialNumber } }).pipe(
            Layer.provide(Layer.merge(Parent, provider))
          ),
          { env }
        )
      )
      assert.deepStrictEqual(yield* Ref.get(requests), [{ serialNumber, roleArn: audit, profile: "default" }])
      assert.strictEqual(sts.calls("AssumeRole")[1]?.params.TokenCode, "654321")

      const missing = getFailure(
        yield* resolveWith(AssumeRole.layerFromArn({ roleArn: audit, mfa: { serialNumber } }).pipe(Layer.provide(Parent)), {
          env
        })
      )
      assert.strictEqual(missing.reason, "MfaRequired")
      assert.include(missing.message, "give mfa.tokenCode, or provide MfaTokenProvider.layer")
      const notACode = getFailure(
        yield* resolveWith(
          AssumeRole.layerFromArn({ roleArn: audit, mfa: { serialNumber, tokenCode: Effect.succeed("12ab") } }).pipe(
            Layer.provide(Parent)
          ),
          { env }
        )
      )
      assert.strictEqual(notACode.reason, "MfaRequired")
      assert.include(notACode.message, "not a six-digit code")
      assert.notInclude(notACode.message, "12ab")
      assert.lengthOf(sts.calls("AssumeRole"), 2)
    }))
})

describe("AssumeRole.layerFromArn: refresh", () => {
  const start = Date.parse("2030-06-01T00:00:00Z")

  it.scoped("renews before expiry, each time with the parent's current credentials", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      let now = start
      const home = yield* tempHome
      const sts = yield* StsServer.make({ now: () => now })
      // A parent whose credentials change at every `get`, as a refreshing source's would.
      const gets = yield* Ref.make(0)
      const parent = Layer.succeed(
        AwsCredentials,
        makeService({
          get: Effect.map(Ref.updateAndGet(gets, (n) => n + 1), (n) =>
            Credentials.make({
              accessKeyId: `AKIAPARENT${String(n).padStart(10, "0")}`,
              secretAccessKey: parentSecret,
              source: "env",
              provenance: `parent #${n}`
            }))
        })
      )
      // A long STS timeout: the TestClock jumps must not time out a call in flight.
      const layer = AssumeRole.layerFromArn({ roleArn: audit, timeout: "1 day", maxAttempts: 1 }).pipe(
        Layer.provide(parent)
      )
      const exit = yield* runWith(layer, { env: envFor(home, sts) }, Effect.gen(function*() {
        const service = yield* AwsCredentials
        const first = yield* service.get
        const cached = yield* service.get
        now = start + 55 * 60_000
        yield* TestClock.setTime(now)
        const second = yield* service.get
        return [first, cached, second] as const
      }))
      const [first, cached, second] = getSuccess(exit)
      assert.strictEqual(cached, first)
      assert.notStrictEqual(second.accessKeyId, first.accessKeyId)
      assert.strictEqual(second.accessKeyId, sts.issued[1]?.accessKeyId)
      assert.deepStrictEqual(sts.calls("AssumeRole").map((call) => call.accessKeyId), [
        "AKIAPARENT0000000001",
        "AKIAPARENT0000000002"
      ])
      // The session name chosen at build time is kept across refreshes.
      assert.deepStrictEqual(
        sts.calls("AssumeRole").map((call) => call.params.RoleSessionName),
        [`botocore-session-${start / 1000}`, `botocore-session-${start / 1000}`]
      )
      assert.include(second.provenance, "from parent #2")
    }))
})

describe("two accounts side by side in one program", () => {
  /** A part of a program that only asks for `AwsCredentials`. */
  const whoAmI = (part: string) =>
    Effect.flatMap(AwsCredentials, (service) => service.get).pipe(
      Effect.map((credentials) => ({
        part,
        accountId: credentials.accountId._tag === "Some" ? credentials.accountId.value : undefined,
        accessKeyId: credentials.accessKeyId,
        provenance: credentials.provenance
      }))
    )

  it.scoped("Effect.provide at two places: each part gets its own role, both from one parent", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const program = Effect.all([
        whoAmI("audit").pipe(Effect.provide(AssumeRole.layerFromArn({ roleArn: audit }))),
        whoAmI("backup").pipe(Effect.provide(AssumeRole.layerFromArn({ roleArn: backup }))),
        whoAmI("base")
      ], { concurrency: 2 })
      const exit = yield* runWith(Parent, { env: envFor(home, sts) }, program)
      const [a, b, base] = getSuccess(exit)
      assert.deepStrictEqual([a.accountId, b.accountId, base.accountId], ["111111111111", "222222222222", undefined])
      assert.notStrictEqual(a.accessKeyId, b.accessKeyId)
      assert.strictEqual(base.accessKeyId, "AKIAPARENT0000000001")
      assert.isTrue(a.provenance.startsWith(`assume-role ${audit} from static parent keys`))
      assert.isTrue(b.provenance.startsWith(`assume-role ${backup} from static parent keys`))
      assert.deepStrictEqual(
        sts.calls("AssumeRole").map((call) => [call.params.RoleArn, call.accessKeyId]).sort(),
        [[audit, "AKIAPARENT0000000001"], [backup, "AKIAPARENT0000000001"]]
      )
    }))
})
