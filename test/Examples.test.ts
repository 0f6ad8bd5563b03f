/**
 * The examples as users run them (`npx tsx examples/...`), as child processes with an empty
 * home and instance metadata off: the S3 round trip offline on the in-memory layer, and its
 * failing exit status when the server cannot be reached; two accounts side by side against the
 * loopback STS (test/support/stsServer.ts), and its refusal to call AWS with its example roles;
 * DynamoDB + SQS, which will not touch an AWS account unless asked (its moto run is in the
 * services tier, test/services/awsclient.moto.test.ts); and the program without Effect
 * (`fromChain` as an S3Client's credentials) against the loopback S3 fake.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { runTsx, tempHome } from "./support/fixtures.js"
import * as S3Server from "./support/s3Server.js"
import * as StsServer from "./support/stsServer.js"

const runExample = (file: string, env: Record<string, string>) =>
  Effect.promise(() => runTsx(path.join("examples", file), [], env))

describe("examples/s3-roundtrip.ts", () => {
  it.scoped("offline: the whole round trip on the in-memory layer, credentials from the chain or example keys", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const [fallback, fromEnv] = yield* Effect.all([
        runExample("s3-roundtrip.ts", { HOME: home.dir }),
        runExample("s3-roundtrip.ts", {
          HOME: home.dir,
          AWS_ACCESS_KEY_ID: "AKIAEXAMPLEFROMENV01",
          AWS_SECRET_ACCESS_KEY: "example-env-secret-never-printed"
        })
      ], { concurrency: 2 })
      assert.strictEqual(fallback.status, 0, fallback.stderr)
      assert.include(fallback.stdout, "Credentials from explicit (AKIDEXAMPLE), region us-east-1")
      for (const line of ["Uploaded 14000000 bytes in 3 parts", "Read back 500000 lines", "Presigned GET", "Deleted 2 objects and the bucket"]) {
        assert.include(fallback.stdout, line)
      }
      assert.strictEqual(fromEnv.status, 0, fromEnv.stderr)
      assert.include(fromEnv.stdout, "Credentials from env (AKIAEXAMPLEFROMENV01)")
      assert.notInclude(fromEnv.stdout + fromEnv.stderr, "example-env-secret-never-printed")
    }), { timeout: 120_000 })

  it.scoped("a server that cannot be reached: one readable error line and exit status 1", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const result = yield* runExample("s3-roundtrip.ts", {
        HOME: home.dir,
        S3_ENDPOINT: "http://127.0.0.1:1",
        AWS_ACCESS_KEY_ID: "AKIAEXAMPLEFROMENV01",
        AWS_SECRET_ACCESS_KEY: "example-env-secret-never-printed",
        AWS_REGION: "us-east-1"
      })
      assert.strictEqual(result.status, 1)
      assert.match(result.stderr, /S3Error: S3 CreateBucket s3:\/\/roundtrip-\S+: Unreachable \(ECONNREFUSED\)/)
      assert.notInclude(result.stdout + result.stderr, "example-env-secret-never-printed")
    }), { timeout: 60_000 })
})

describe("examples/two-accounts.ts", () => {
  it.scoped("two parts of one program in two accounts, both roles assumed with the chain's credentials", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const result = yield* runExample("two-accounts.ts", {
        HOME: home.dir,
        AWS_ENDPOINT_URL: sts.url,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "AKIAEXAMPLEFROMENV01",
        AWS_SECRET_ACCESS_KEY: "example-env-secret-never-printed"
      })
      assert.strictEqual(result.status, 0, result.stderr)
      const lines = result.stdout.split("\n")
      assert.match(lines[0]!, /^audit: account 111111111111, key ASIAFAKE\d+$/)
      assert.match(lines[1]!, /^ {2}assume-role arn:aws:iam::111111111111:role\/Audit from environment variables /)
      assert.match(lines[2]!, /^backup: account 222222222222, key ASIAFAKE\d+$/)
      assert.match(lines[3]!, /^ {2}assume-role arn:aws:iam::222222222222:role\/Backup from environment variables /)
      assert.strictEqual(lines[4], "the rest: account not known, key AKIAEXAMPLEFROMENV01")
      const calls = sts.calls("AssumeRole")
      assert.deepStrictEqual(calls.map((call) => [call.params.RoleSessionName, call.accessKeyId]), [
        ["audit-report", "AKIAEXAMPLEFROMENV01"],
        ["nightly-backup", "AKIAEXAMPLEFROMENV01"]
      ])
      assert.strictEqual(calls[1]?.params["Tags.member.1.Key"], "job")
      assert.notInclude(result.stdout + result.stderr, "example-env-secret-never-printed")
    }), { timeout: 60_000 })

  it.scoped("without an STS endpoint or roles of the user's: says how to run it, exit status 2, no call", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const result = yield* runExample("two-accounts.ts", {
        HOME: home.dir,
        AWS_ACCESS_KEY_ID: "AKIAEXAMPLEFROMENV01",
        AWS_SECRET_ACCESS_KEY: "example-env-secret-never-printed"
      })
      assert.strictEqual(result.status, 2, result.stderr)
      assert.include(result.stderr, "Set AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_STS) to an STS on loopback")
      assert.strictEqual(result.stdout, "")
    }), { timeout: 60_000 })
})

describe("examples/dynamodb-sqs.ts", () => {
  it.scoped("without a configured endpoint: says it would use the AWS account, exit status 2, nothing created", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const result = yield* runExample("dynamodb-sqs.ts", {
        HOME: home.dir,
        AWS_REGION: "us-east-1",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_ACCESS_KEY_ID: "AKIAEXAMPLEFROMENV01",
        AWS_SECRET_ACCESS_KEY: "example-env-secret-never-printed"
      })
      assert.strictEqual(result.status, 2, result.stderr)
      assert.include(result.stdout, "DynamoDB at AWS, SQS at AWS, region us-east-1")
      assert.include(result.stderr, "Set AWS_ENDPOINT_URL to a local server")
      assert.notInclude(result.stdout, "DynamoDB: put")
      assert.notInclude(result.stdout + result.stderr, "example-env-secret-never-printed")
    }), { timeout: 60_000 })

  it.scoped("a server that cannot be reached: one readable AwsServiceError line and exit status 1", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const result = yield* runExample("dynamodb-sqs.ts", {
        HOME: home.dir,
        AWS_ENDPOINT_URL: "http://127.0.0.1:1",
        AWS_MAX_ATTEMPTS: "1",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "AKIAEXAMPLEFROMENV01",
        AWS_SECRET_ACCESS_KEY: "example-env-secret-never-printed"
      })
      assert.strictEqual(result.status, 1)
      assert.match(result.stderr, /AwsServiceError: DynamoDB CreateTable: Unreachable \(ECONNREFUSED\)/)
      assert.notInclude(result.stdout + result.stderr, "example-env-secret-never-printed")
    }), { timeout: 60_000 })
})

describe("examples/without-effect.ts", () => {
  it.scoped("credentials from the chain, an S3Client signing with them; with none, every link and exit status 1", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const s3 = yield* S3Server.fakeS3
      s3.handle((_request, response) => {
        response.writeHead(200, { "content-type": "application/xml" })
        response.end(
          `<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult><Buckets>` +
            `<Bucket><Name>one</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket>` +
            `</Buckets></ListAllMyBucketsResult>`
        )
      })
      const keys = { AWS_ACCESS_KEY_ID: "AKIAEXAMPLENOEFFECT1", AWS_SECRET_ACCESS_KEY: "no-effect-secret-never-printed" }
      const [found, none] = yield* Effect.all([
        runExample("without-effect.ts", { HOME: home.dir, ...keys, AWS_ENDPOINT_URL: s3.url }),
        runExample("without-effect.ts", { HOME: home.dir, BOTO_CONFIG: path.join(home.dir, "none") })
      ], { concurrency: 2 })
      assert.strictEqual(found.status, 0, found.stderr)
      assert.include(found.stdout, "Credentials AKIA...ECT1, which never expire")
      assert.include(found.stdout, `S3 at ${s3.url}: 1 bucket(s)`)
      assert.strictEqual(s3.requests.at(-1)?.accessKeyId, keys.AWS_ACCESS_KEY_ID)
      assert.strictEqual(none.status, 1)
      assert.include(none.stderr, "No credentials found. Tried, in order:")
      assert.include(none.stderr, "iam-role: AWS_EC2_METADATA_DISABLED is true")
      for (const result of [found, none]) assert.notInclude(result.stdout + result.stderr, keys.AWS_SECRET_ACCESS_KEY)
    }), { timeout: 60_000 })
})
