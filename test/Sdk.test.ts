/**
 * `effect-aws-credentials/sdk` for programs that do not use Effect: `fromChain()` resolves the
 * default chain as an SDK credential provider, fails with a `CredentialsProviderError` that lists
 * every link and carries the typed error, signs a real SDK client's requests, retries the chain
 * after a failed first resolution, and releases everything (a process using it ends by itself,
 * with or without `dispose()`).
 */
import { S3Client, ListBucketsCommand } from "@aws-sdk/client-s3"
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { vi } from "vitest"
import { CredentialsError, NoCredentialsFound } from "../src/CredentialsError.js"
import { CredentialsProviderError, fromChain, type Options } from "../src/sdk.js"
import { defaultChainLinks, processJson, runTsx, shellQuote, type TempHome, tempHome } from "./support/fixtures.js"
import { fakeS3, listBucketsXml, replyOk } from "./support/s3Server.js"
import { assertNoSecrets } from "./support/secrets.js"

const secret = "sdkSecretKeyThatMustNeverBePrinted000042"

/**
 * The provider's runtime reads the process's environment, as an SDK user's program does: each
 * test stubs it (an empty temporary home, nothing but what the test sets) and vitest restores it.
 */
const useEnv = (home: TempHome, env: Record<string, string> = {}) => {
  for (const name of Object.keys(process.env)) {
    if (name.startsWith("AWS_") && name !== "AWS_EC2_METADATA_DISABLED" && !name.startsWith("AWS_SDK_JS")) vi.stubEnv(name, undefined)
  }
  for (const [name, value] of Object.entries(home.env({ AWS_EC2_METADATA_DISABLED: "true", ...env }))) vi.stubEnv(name, value)
}
afterEach(() => {
  vi.unstubAllEnvs()
})

/** The chain's tunables for tests: boto's default files inside the temporary home. */
const testOptions = (home: TempHome): Options => ({
  botoConfig: { defaultPaths: [path.join(home.dir, "etc", "boto.cfg"), "~/.boto"] }
})

const rejection = (promise: Promise<unknown>) =>
  Effect.promise(() => promise.then(() => assert.fail("expected a rejection"), (error: unknown) => error))

describe("sdk: fromChain", () => {
  it.scoped("env credentials, in the SDK's identity shape; cached between calls; rejects once disposed", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      useEnv(home, { AWS_ACCESS_KEY_ID: "AKIASDKTEST000000001", AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: "tok" })
      const provider = fromChain(testOptions(home))
      const first = yield* Effect.promise(() => provider())
      assert.deepStrictEqual(first, { accessKeyId: "AKIASDKTEST000000001", secretAccessKey: secret, sessionToken: "tok" })
      assert.strictEqual(yield* Effect.promise(() => provider()), first)
      yield* Effect.promise(() => provider.dispose())
      yield* Effect.promise(() => provider.dispose())
      const after = yield* rejection(provider())
      assert.instanceOf(after, Error)
      assert.include((after as Error).message, "disposed")
    }))

  it.scoped("the expiration comes with expiring credentials (a credential_process)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const expiration = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, "Z")
      const script = home.script(
        "creds.sh",
        `printf '%s' ${shellQuote(processJson({ AccessKeyId: "AKIAPROC", SecretAccessKey: secret, SessionToken: "t", Expiration: expiration }))}`
      )
      home.writeConfig(`[default]\ncredential_process = ${script}\n`)
      useEnv(home)
      const provider = fromChain(testOptions(home))
      const identity = yield* Effect.promise(() => provider())
      yield* Effect.promise(() => provider.dispose())
      assert.strictEqual(identity.accessKeyId, "AKIAPROC")
      assert.strictEqual(identity.expiration?.toISOString().replace(/\.\d+Z$/, "Z"), expiration)
    }))

  it.scoped("nothing configured: a CredentialsProviderError listing every link, NoCredentialsFound as cause, tryNextLink", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      useEnv(home)
      const provider = fromChain(testOptions(home))
      const error = yield* rejection(provider())
      yield* Effect.promise(() => provider.dispose())
      assert.instanceOf(error, CredentialsProviderError)
      const failure = error as CredentialsProviderError
      assert.strictEqual(failure.name, "CredentialsProviderError")
      assert.isTrue(failure.tryNextLink)
      assert.instanceOf(failure.cause, NoCredentialsFound)
      assert.deepStrictEqual((failure.cause as NoCredentialsFound).attempts.map((a) => a.source), [...defaultChainLinks])
      const listed = failure.message.split("\n").filter((line) => line.startsWith("  - ")).map((line) => line.slice(4).split(":")[0])
      assert.deepStrictEqual(listed, [...defaultChainLinks])
      assert.include(failure.message, "env: AWS_ACCESS_KEY_ID is not set")
    }))

  it.scoped("a broken source: the links tried before it and its failure, the CredentialsError as cause, no secret", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      // A credential process that fails, its output holding a secret (stdout is never shown).
      const script = home.script("creds.sh", `printf '%s' ${shellQuote(processJson({ AccessKeyId: "AKIAPROC", SecretAccessKey: secret }))}\nexit 3`)
      home.writeConfig(`[default]\ncredential_process = ${script}\n`)
      useEnv(home)
      const provider = fromChain(testOptions(home))
      const error = yield* rejection(provider())
      yield* Effect.promise(() => provider.dispose())
      assert.instanceOf(error, CredentialsProviderError)
      const failure = error as CredentialsProviderError
      assert.isFalse(failure.tryNextLink)
      assert.instanceOf(failure.cause, CredentialsError)
      assert.strictEqual((failure.cause as CredentialsError).reason, "ProcessFailed")
      const lines = failure.message.split("\n")
      assert.match(lines[0]!, /^Could not load credentials: custom-process: /)
      assert.strictEqual(lines[1], "Tried, in order:")
      assert.deepStrictEqual(
        lines.slice(2).map((line) => line.replace(/^ {2}- ([\w-]+): ([\w ]+):.*$/, "$1 $2")),
        [
          "env not configured",
          "assume-role not configured",
          "assume-role-with-web-identity not configured",
          "sso not configured",
          "shared-credentials-file not configured",
          "login not configured",
          "custom-process failed"
        ]
      )
      assertNoSecrets(failure, [secret])
    }))

  it.scoped("a failed first resolution is not kept: the next call tries the chain again", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      useEnv(home)
      const provider = fromChain(testOptions(home))
      assert.instanceOf(yield* rejection(provider()), CredentialsProviderError)
      home.writeCredentials(`[default]\naws_access_key_id = AKIALATER0000000001\naws_secret_access_key = ${secret}\n`)
      const identity = yield* Effect.promise(() => provider())
      yield* Effect.promise(() => provider.dispose())
      assert.strictEqual(identity.accessKeyId, "AKIALATER0000000001")
    }))

  it.scoped("the credentials: of an S3Client: its requests are signed with the chain's credentials", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const s3 = yield* fakeS3
      s3.handle((_request, response) => replyOk(response, listBucketsXml(["one", "two"]), { "content-type": "application/xml" }))
      useEnv(home, { AWS_ACCESS_KEY_ID: "AKIASDKS3TEST0000001", AWS_SECRET_ACCESS_KEY: secret })
      const credentials = fromChain(testOptions(home))
      const client = new S3Client({ region: "us-east-1", endpoint: s3.url, forcePathStyle: true, maxAttempts: 1, credentials })
      const listed = yield* Effect.promise(() => client.send(new ListBucketsCommand({})))
      client.destroy()
      yield* Effect.promise(() => credentials.dispose())
      assert.deepStrictEqual(listed.Buckets?.map((bucket) => bucket.Name), ["one", "two"])
      assert.deepStrictEqual(s3.requests.map((request) => request.accessKeyId), ["AKIASDKS3TEST0000001"])
    }))
})

describe("sdk: a process using fromChain ends by itself", () => {
  it.scoped("with expiring credentials (a refresh scheduled), with and without dispose()", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const expiration = new Date(Date.now() + 3_600_000).toISOString()
      const script = home.script(
        "creds.sh",
        `printf '%s' ${shellQuote(processJson({ AccessKeyId: "AKIACHILD", SecretAccessKey: secret, SessionToken: "t", Expiration: expiration }))}`
      )
      home.writeConfig(`[default]\ncredential_process = ${script}\n`)
      const env = home.env({ BOTO_CONFIG: path.join(home.dir, "none") })
      const program = path.join("test", "support", "programs", "sdk-from-chain.ts")
      const [disposed, kept] = yield* Effect.promise(() =>
        Promise.all([runTsx(program, ["dispose"], env), runTsx(program, [], env)])
      )
      for (const result of [disposed, kept]) {
        // Exit status 0: the program ended on its own (a handle left behind would have kept it
        // running until runTsx killed it).
        assert.strictEqual(result.status, 0, result.stderr)
        const printed = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as {
          accessKeyId: string
          expiration: string | null
          resources: ReadonlyArray<string>
        }
        assert.strictEqual(printed.accessKeyId, "AKIACHILD")
        assert.isNotNull(printed.expiration)
        assert.notInclude(result.stdout + result.stderr, secret)
      }
      // After dispose() no timer is left at all; without it, the refresh timer does not hold the process.
      const after = JSON.parse(disposed.stdout.trim().split("\n").at(-1)!) as { resources: ReadonlyArray<string> }
      assert.notInclude(after.resources, "Timeout")
    }), { timeout: 90_000 })
})
