/**
 * `S3.layer` against moto with IAM authentication switched on (signatures, access keys and
 * session tokens verified): the shared S3 contract, then credentials from each kind of source
 * signing requests moto accepts, the errors of wrong keys, the retry after `InvalidToken`, and
 * credentials that change under a running client. Presigned URLs get a second, open moto (moto
 * answers them with 500 under auth).
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as AwsCredentials from "../../src/AwsCredentials.js"
import * as AwsRegion from "../../src/AwsRegion.js"
import type * as AwsSession from "../../src/AwsSession.js"
import * as Credentials from "../../src/Credentials.js"
import { CredentialsError, type CredentialsUnavailable } from "../../src/CredentialsError.js"
import * as AssumeRole from "../../src/providers/AssumeRole.js"
import * as EnvCredentials from "../../src/providers/EnvCredentials.js"
import * as ProcessCredentials from "../../src/providers/ProcessCredentials.js"
import * as SharedCredentialsFile from "../../src/providers/SharedCredentialsFile.js"
import * as S3 from "../../src/S3.js"
import { registerContract } from "../s3/contract.js"
import { type Env, getFailure, getSuccess, type Platform, processJson, runTsx, runWith, shellQuote, type TempHome, tempHome } from "../support/fixtures.js"
import { assertNoSecrets } from "../support/secrets.js"
import { type Keys, motoAvailable, motoMissingReason, useMoto } from "./moto.js"
import { s3ErrorOf } from "../support/s3Errors.js"

const authMoto = useMoto()
const openMoto = useMoto()

const skip = motoAvailable ? undefined : motoMissingReason
const suite = motoAvailable ? describe : describe.skip
const suffix = motoAvailable ? "" : ` (skipped: ${motoMissingReason})`

let user: Keys
let second: Keys
let roleArn: string

beforeAll(async () => {
  if (!motoAvailable) return
  const moto = authMoto.current()
  user = await moto.createUser("s3-user")
  second = await moto.createUser("s3-second")
  roleArn = await moto.createRole("S3Role")
  await moto.enableAuth()
}, 60_000)

const region = AwsRegion.layerStatic("us-east-1")

/** `S3.layer` on `url` with the given credentials layer. */
const s3On = (url: string, credentials: Layer.Layer<AwsCredentials.AwsCredentials>, options: S3.Options = {}) =>
  S3.layer({ endpoint: url, forcePathStyle: true, maxAttempts: 2, ...options }).pipe(
    Layer.provide(Layer.merge(credentials, region))
  )

const keysLayer = (keys: Keys) => AwsCredentials.layerStatic(keys)

registerContract({
  name: "moto with IAM auth",
  layer: () => s3On(authMoto.current().url, keysLayer(user)),
  capabilities: {
    presignFetch: false,
    conditionalWrites: true,
    recreateBucket: "ok",
    send: true,
    manyKeys: 1500,
    copyOntoItselfRefused: true,
    copyConditions: false,
    encodedSigning: false
  },
  skip
})

/** A bucket for a test, removed afterwards. */
const roundTrip = (label: string) =>
  Effect.gen(function*() {
    const s3 = yield* S3.S3
    const bucket = `src-${label}-${Date.now().toString(36)}`
    yield* s3.createBucket(bucket)
    yield* s3.putObject(bucket, "greeting.txt", `signed by ${label}`)
    const text = yield* s3.getObjectText(bucket, "greeting.txt")
    const keys = Chunk.toArray(yield* Stream.runCollect(s3.listObjects(bucket))).map((o) => o.key)
    yield* s3.deleteObject(bucket, "greeting.txt")
    yield* s3.deleteBucket(bucket)
    return { text, keys }
  })

type SourceLayer = Layer.Layer<
  AwsCredentials.AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession.AwsSession | Platform
>

/**
 * Runs `roundTrip` with `S3.layer()` (no endpoint option: it comes from the environment or the
 * profile) on top of a credential source, a session and the region from the environment.
 */
const throughSource = (source: SourceLayer, env: Env, label: string) =>
  runWith(
    source,
    { env },
    Effect.gen(function*() {
      const credentials = yield* Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get)
      const result = yield* roundTrip(label).pipe(
        Effect.provide(S3.layer({ forcePathStyle: true, maxAttempts: 2 }).pipe(Layer.provide(AwsRegion.layer)))
      )
      return { credentials, ...result }
    })
  )

const baseEnv = (home: TempHome, vars: Env = {}): Env =>
  home.env({ AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true", ...vars })

suite(`S3 on moto with IAM auth: credentials from each source sign requests${suffix}`, () => {
  it.scopedLive("environment variables (endpoint from AWS_ENDPOINT_URL_S3)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const env = baseEnv(home, {
        AWS_ACCESS_KEY_ID: user.accessKeyId,
        AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
        AWS_ENDPOINT_URL_S3: authMoto.current().url
      })
      const { credentials, keys, text } = getSuccess(yield* throughSource(EnvCredentials.layer as SourceLayer, env, "env"))
      assert.strictEqual(credentials.source, "env")
      assert.strictEqual(text, "signed by env")
      assert.deepStrictEqual(keys, ["greeting.txt"])
    }))

  it.scopedLive("a profile in the shared credentials file (endpoint from the profile's [services] section)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials(`[dev]\naws_access_key_id = ${user.accessKeyId}\naws_secret_access_key = ${user.secretAccessKey}\n`)
      home.writeConfig(`[profile dev]\nservices = local\n[services local]\ns3 =\n  endpoint_url = ${authMoto.current().url}\n`)
      const env = baseEnv(home, { AWS_PROFILE: "dev" })
      const { credentials, text } = getSuccess(
        yield* throughSource(SharedCredentialsFile.layer as SourceLayer, env, "profile")
      )
      assert.strictEqual(credentials.source, "shared-credentials-file")
      assert.strictEqual(text, "signed by profile")
    }))

  it.scopedLive("credential_process (endpoint from the profile's endpoint_url)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const script = home.script(
        "creds.sh",
        `printf '%s' ${shellQuote(processJson({ AccessKeyId: user.accessKeyId, SecretAccessKey: user.secretAccessKey }))}`
      )
      home.writeConfig(`[profile tool]\ncredential_process = ${script}\nendpoint_url = ${authMoto.current().url}\n`)
      const env = baseEnv(home, { AWS_PROFILE: "tool" })
      const { credentials, text } = getSuccess(yield* throughSource(ProcessCredentials.layer as SourceLayer, env, "process"))
      assert.strictEqual(credentials.source, "custom-process")
      assert.strictEqual(text, "signed by process")
    }))

  it.scopedLive("an assumed role (moto STS): temporary credentials with a session token", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const url = authMoto.current().url
      home.writeConfig(`[profile dev]\nrole_arn = ${roleArn}\nsource_profile = base\n`)
      home.writeCredentials(`[base]\naws_access_key_id = ${user.accessKeyId}\naws_secret_access_key = ${user.secretAccessKey}\n`)
      const env = baseEnv(home, { AWS_PROFILE: "dev", AWS_ENDPOINT_URL_STS: url, AWS_ENDPOINT_URL_S3: url })
      const { credentials, text } = getSuccess(
        yield* throughSource(AssumeRole.layerWith({ timeout: "10 seconds" }) as SourceLayer, env, "role")
      )
      assert.strictEqual(credentials.source, "assume-role")
      assert.match(credentials.accessKeyId, /^ASIA/)
      assert.isTrue(Option.isSome(credentials.sessionToken))
      assert.strictEqual(text, "signed by role")
    }))
})

/** `listBuckets` through the shared-credentials-file source of profile dev (endpoint from the profile). */
const listThroughProfile = (home: TempHome, keys: { accessKeyId: string; secretAccessKey: string }) => {
  home.writeCredentials(`[dev]\naws_access_key_id = ${keys.accessKeyId}\naws_secret_access_key = ${keys.secretAccessKey}\n`)
  home.writeConfig(`[profile dev]\nservices = local\n[services local]\ns3 =\n  endpoint_url = ${authMoto.current().url}\n`)
  return runWith(
    SharedCredentialsFile.layer as SourceLayer,
    { env: baseEnv(home, { AWS_PROFILE: "dev" }) },
    Effect.flatMap(S3.S3, (s3) => s3.listBuckets).pipe(
      Effect.provide(S3.layer({ forcePathStyle: true, maxAttempts: 1 }).pipe(Layer.provide(AwsRegion.layer)))
    )
  )
}

suite(`S3 on moto with IAM auth: errors name the credentials that signed${suffix}`, () => {
  it.scopedLive("a wrong secret from a profile: SignatureDoesNotMatch naming the source, the file and line, the masked key", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      // A planted secret: moto refuses it, and no message may show it.
      const wrong = `${user.secretAccessKey.slice(0, -6)}WRONG0`
      const exit = yield* listThroughProfile(home, { accessKeyId: user.accessKeyId, secretAccessKey: wrong })
      const error = s3ErrorOf(getFailure(exit))
      const masked = `${user.accessKeyId.slice(0, 4)}...${user.accessKeyId.slice(-4)}`
      assert.strictEqual(error.reason, "SignatureDoesNotMatch")
      assert.strictEqual(error.signedWith?.source, "shared-credentials-file")
      assert.strictEqual(error.signedWith?.accessKeyId, user.accessKeyId)
      assert.include(error.signedWith?.provenance ?? "", "profile dev")
      assert.include(
        error.message,
        `SignatureDoesNotMatch (HTTP 403`,
        error.message
      )
      assert.include(
        error.message,
        `the secret key does not match access key ${masked}, from ${error.signedWith?.provenance} (shared-credentials-file)`
      )
      assert.include(error.message, home.credentialsPath)
      assert.notInclude(error.message, user.accessKeyId)
      assertNoSecrets(exit, [wrong, user.secretAccessKey])
    }))

  it.scopedLive("an unknown key from a profile: InvalidAccessKeyId naming the source, the file and the masked key", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const exit = yield* listThroughProfile(home, { accessKeyId: "AKIAUNKNOWNKEY00WXYZ", secretAccessKey: user.secretAccessKey })
      const error = s3ErrorOf(getFailure(exit))
      assert.strictEqual(error.reason, "InvalidAccessKeyId")
      assert.include(error.message, "AWS does not know access key AKIA...WXYZ, from profile dev")
      assert.include(error.message, "(shared-credentials-file)")
      assert.include(error.message, home.credentialsPath)
      assertNoSecrets(exit, [user.secretAccessKey])
    }))

  it.scopedLive("no credentials to be had: the CredentialsError itself, caught by catchTag; nothing reaches moto", () =>
    Effect.gen(function*() {
      const moto = authMoto.current()
      const refused = new CredentialsError({
        source: "custom-process",
        reason: "ProcessFailed",
        profile: "tool",
        detail: `credential_process exited with status 1`
      })
      const credentials = Layer.succeed(AwsCredentials.AwsCredentials, AwsCredentials.make({ get: Effect.fail(refused) }))
      const outcome = yield* Effect.flatMap(S3.S3, (s3) =>
        s3.putObject("any-bucket", "k", "v").pipe(
          Effect.as("written"),
          Effect.catchTag("CredentialsError", (error) => Effect.succeed(`${error.source} ${error.reason} ${error.profile}`))
        )).pipe(Effect.provide(s3On(moto.url, credentials)))
      assert.strictEqual(outcome, "custom-process ProcessFailed tool")
    }))
})

suite(`S3 on moto with IAM auth: wrong credentials and token retries${suffix}`, () => {
  it.scopedLive("a wrong secret: SignatureDoesNotMatch (403); an unknown key: InvalidAccessKeyId; no secret printed", () =>
    Effect.gen(function*() {
      const url = authMoto.current().url
      const wrong = `${user.secretAccessKey.slice(0, -6)}WRONG0`
      const exit = yield* Effect.exit(
        Effect.flatMap(S3.S3, (s3) => s3.listBuckets).pipe(
          Effect.provide(s3On(url, keysLayer({ accessKeyId: user.accessKeyId, secretAccessKey: wrong })))
        )
      )
      const error = s3ErrorOf(getFailure(exit))
      assert.strictEqual(error.reason, "SignatureDoesNotMatch")
      assert.strictEqual(error.status, 403)
      assert.strictEqual(error.operation, "ListBuckets")
      assertNoSecrets(exit, [wrong, user.secretAccessKey])

      const unknown = s3ErrorOf(getFailure(
        yield* Effect.exit(
          Effect.flatMap(S3.S3, (s3) => s3.putObject("any-bucket", "k", "v")).pipe(
            Effect.provide(s3On(url, keysLayer({ accessKeyId: "AKIAUNKNOWNKEY000000", secretAccessKey: wrong })))
          )
        )
      ))
      assert.strictEqual(unknown.reason, "InvalidAccessKeyId")
      assert.strictEqual(unknown.status, 403)
    }))

  it.scopedLive("InvalidToken: the credentials are invalidated and the request is made once more with fresh ones", () =>
    Effect.gen(function*() {
      const url = authMoto.current().url
      const sts = new STSClient({ region: "us-east-1", endpoint: url, maxAttempts: 1, credentials: user })
      const assumed = yield* Effect.promise(() =>
        sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: "s3-token-test" }))
      ).pipe(Effect.ensuring(Effect.sync(() => sts.destroy())))
      const real = assumed.Credentials!
      let gets = 0
      let invalidations = 0
      const service = AwsCredentials.make({
        get: Effect.sync(() => {
          gets++
          return Credentials.make({
            accessKeyId: real.AccessKeyId!,
            secretAccessKey: real.SecretAccessKey!,
            // Until invalidated: a token moto does not know.
            sessionToken: invalidations === 0 ? "bogus-session-token" : real.SessionToken!,
            expiration: real.Expiration,
            source: "explicit"
          })
        }),
        invalidate: Effect.sync(() => {
          invalidations++
        })
      })
      const credentials = Layer.succeed(AwsCredentials.AwsCredentials, service)
      const buckets = yield* Effect.flatMap(S3.S3, (s3) => s3.listBuckets).pipe(Effect.provide(s3On(url, credentials)))
      assert.isArray(buckets)
      assert.strictEqual(invalidations, 1)
      assert.isAtLeast(gets, 2)

      // When fresh credentials do not help either, the error says so after one retry.
      let stillBogusInvalidations = 0
      const stuck = Layer.succeed(
        AwsCredentials.AwsCredentials,
        AwsCredentials.make({
          get: Effect.succeed(Credentials.make({
            accessKeyId: real.AccessKeyId!,
            secretAccessKey: real.SecretAccessKey!,
            sessionToken: "bogus-session-token",
            source: "explicit"
          })),
          invalidate: Effect.sync(() => {
            stillBogusInvalidations++
          })
        })
      )
      const error = s3ErrorOf(getFailure(yield* Effect.exit(Effect.flatMap(S3.S3, (s3) => s3.listBuckets).pipe(Effect.provide(s3On(url, stuck))))))
      assert.strictEqual(error.code, "InvalidToken")
      assert.strictEqual(stillBogusInvalidations, 1)
    }))

  it.scopedLive("credentials that change under a running client: every request and every part asks for the current ones", () =>
    Effect.gen(function*() {
      const moto = authMoto.current()
      let current: Keys = second
      let gets = 0
      const credentials = Layer.succeed(
        AwsCredentials.AwsCredentials,
        AwsCredentials.make({
          get: Effect.sync(() => {
            gets++
            return Credentials.make({ ...current, source: "explicit" })
          })
        })
      )
      yield* Effect.gen(function*() {
        const s3 = yield* S3.S3
        const bucket = `rotation-${Date.now().toString(36)}`
        yield* s3.createBucket(bucket)
        yield* s3.putObject(bucket, "before", "first key")
        // Rotate: a new key in use, and the old one deleted from IAM.
        const rotated = yield* Effect.promise(() => moto.createUser(`s3-rotated-${Date.now().toString(36)}`, user))
        current = rotated
        yield* Effect.promise(() => moto.iam("DeleteAccessKey", { UserName: "s3-second", AccessKeyId: second.accessKeyId }, user))
        const before = gets
        const result = yield* s3.upload(bucket, "after", Stream.fromIterable(Array.from({ length: 11 }, () => new Uint8Array(1024 * 1024))), {
          partSize: 5 * 1024 * 1024,
          concurrency: 1
        })
        assert.strictEqual(result.parts, 3)
        // CreateMultipartUpload, three parts, CompleteMultipartUpload: five signed requests.
        assert.isAtLeast(gets - before, 5)
        assert.strictEqual(yield* s3.getObjectText(bucket, "before"), "first key")
        yield* s3.deleteObjects(bucket, ["before", "after"])
        yield* s3.deleteBucket(bucket)
      }).pipe(Effect.provide(s3On(moto.url, credentials)))
    }))
})

/** Temporary credentials that expire in `seconds`, for presign clamping. */
const expiringKeys = (seconds: number) =>
  Effect.map(DateTime.now, (now) =>
    AwsCredentials.layerStatic({
      accessKeyId: "ASIAOPENMOTOPRESIGN1",
      secretAccessKey: "open-moto-secret",
      sessionToken: "open-moto-session-token",
      expiration: DateTime.add(now, { seconds })
    }))

suite(`S3 presigned URLs on an open moto${suffix}`, () => {
  registerContract({
    name: "open moto (presigned URLs fetched)",
    layer: () => s3On(openMoto.current().url, keysLayer({ accessKeyId: "AKIAOPENMOTO", secretAccessKey: "open" })),
    capabilities: {
      presignFetch: true,
      conditionalWrites: true,
      recreateBucket: "ok",
      send: true,
      manyKeys: 1001,
      copyOntoItselfRefused: true,
      copyConditions: false,
      encodedSigning: true
    },
    skip
  })

  it.scopedLive("with temporary credentials: the URL carries the token and dies with the credentials (clamped)", () =>
    Effect.gen(function*() {
      const url = openMoto.current().url
      const credentials = yield* expiringKeys(120)
      yield* Effect.gen(function*() {
        const s3 = yield* S3.S3
        const bucket = `presign-${Date.now().toString(36)}`
        yield* s3.createBucket(bucket)
        yield* s3.putObject(bucket, "k", "temporary")
        const signed = yield* s3.presignGetObject(bucket, "k", { expiresIn: "1 hour" })
        assert.deepStrictEqual(signed.clampedBy, Option.some("credentials" as const))
        assert.isAtMost(Duration.toSeconds(signed.expiresIn), 120)
        assert.isAtLeast(Duration.toSeconds(signed.expiresIn), 110)
        assert.isTrue(Duration.equals(signed.requested, Duration.hours(1)))
        assert.include(signed.url, "X-Amz-Security-Token=open-moto-session-token")
        const response = yield* Effect.promise(() => fetch(signed.url))
        assert.strictEqual(response.status, 200)
        assert.strictEqual(yield* Effect.promise(() => response.text()), "temporary")
        yield* s3.deleteObject(bucket, "k")
        yield* s3.deleteBucket(bucket)
      }).pipe(Effect.provide(s3On(url, credentials)))
    }))
})

suite(`examples/s3-roundtrip.ts against moto${suffix}`, () => {
  it.scopedLive("S3_ENDPOINT set: the round trip on the server, credentials from the default chain", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const result = yield* Effect.promise(() =>
        runTsx("examples/s3-roundtrip.ts", [], {
          HOME: home.dir,
          S3_ENDPOINT: openMoto.current().url,
          AWS_ACCESS_KEY_ID: "AKIAEXAMPLEONMOTO001",
          AWS_SECRET_ACCESS_KEY: "example-moto-secret-never-printed",
          AWS_REGION: "us-east-1"
        }, { timeoutMs: 120_000 })
      )
      assert.strictEqual(result.status, 0, result.stderr)
      assert.include(result.stdout, "Credentials from env (AKIAEXAMPLEONMOTO001), region us-east-1")
      assert.include(result.stdout, "Deleted 2 objects and the bucket")
      assert.include(result.stdout, openMoto.current().url.replace("http://", ""))
      assert.notInclude(result.stdout + result.stderr, "example-moto-secret-never-printed")
    }), { timeout: 180_000 })
})
