/**
 * `assume-role` and `assume-role-with-web-identity` against real STS semantics: moto with IAM
 * authentication switched on (signatures verified, policies and trust policies checked), and a
 * second, open moto for the unsigned `AssumeRoleWithWebIdentity` (moto answers unsigned calls
 * with 500 under auth). The credentials that come back must sign an S3 request moto accepts,
 * and botocore 1.43, run beside us in the same environment, must pick the same source.
 */
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts"
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as AwsCredentials from "../../src/AwsCredentials.js"
import type * as AwsSession from "../../src/AwsSession.js"
import type * as Credentials from "../../src/Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../../src/CredentialsError.js"
import * as AssumeRole from "../../src/providers/AssumeRole.js"
import * as WebIdentity from "../../src/providers/WebIdentity.js"
import {
  type Env,
  getFailure,
  getSuccess,
  type Platform,
  processJson,
  resolveWith,
  runWith,
  shellQuote,
  type TempHome,
  tempHome
} from "../support/fixtures.js"
import { assertNoSecrets } from "../support/secrets.js"
import { accountId, type Keys, motoAvailable, motoMissingReason, useMoto } from "./moto.js"

const oracle = path.join(path.dirname(fileURLToPath(import.meta.url)), "botocore_oracle.py")

const authMoto = useMoto()
const openMoto = useMoto()

const suite = motoAvailable ? describe : describe.skip
const suffix = motoAvailable ? "" : ` (skipped: ${motoMissingReason})`

let user: Keys
let roleA: string
let roleB: string

beforeAll(async () => {
  if (!motoAvailable) return
  const moto = authMoto.current()
  user = await moto.createUser("ci")
  roleB = await moto.createRole("RoleB")
  roleA = await moto.createRole("RoleA")
  await moto.enableAuth()
  await openMoto.current().createRole("WebRole")
}, 60_000)

type SourceLayer = Layer.Layer<
  AwsCredentials.AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession.AwsSession | Platform
>

const assumeRole = AssumeRole.layerWith({ timeout: "10 seconds", maxAttempts: 2 })
const webIdentity = WebIdentity.layerWith({ timeout: "10 seconds", maxAttempts: 2 })

const baseEnv = (home: TempHome, url: string, vars: Env = {}): Env =>
  home.env({
    AWS_REGION: "us-east-1",
    // botocore reads only AWS_DEFAULT_REGION.
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_ENDPOINT_URL_STS: url,
    AWS_EC2_METADATA_DISABLED: "true",
    ...vars
  })

/** Signs S3 ListBuckets and STS GetCallerIdentity with the layer's credentials; returns the caller ARN. */
const useCredentials = (url: string) =>
  Effect.gen(function*() {
    const provider = yield* AwsCredentials.toAwsSdkProvider
    const s3 = new S3Client({ region: "us-east-1", endpoint: url, forcePathStyle: true, maxAttempts: 1, credentials: provider })
    const sts = new STSClient({ region: "us-east-1", endpoint: url, maxAttempts: 1, credentials: provider })
    try {
      const buckets = yield* Effect.promise(() => s3.send(new ListBucketsCommand({})))
      const identity = yield* Effect.promise(() => sts.send(new GetCallerIdentityCommand({})))
      return { status: buckets.$metadata.httpStatusCode, arn: identity.Arn }
    } finally {
      s3.destroy()
      sts.destroy()
    }
  })

/** What botocore resolves in the same environment (its own process, only `env`). */
const botocore = (
  env: Env,
  profile?: string
): Effect.Effect<{ ok: boolean; method?: string; accessKey?: string; error?: string }> =>
  Effect.async((resume) => {
    execFile("python3", [oracle, ...(profile === undefined ? [] : [profile])], { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 }, (error, stdout) => {
      const line = stdout.trim().split("\n").pop() ?? ""
      try {
        resume(Effect.succeed(JSON.parse(line)))
      } catch {
        resume(Effect.succeed({ ok: false, error: `oracle failed: ${error?.message ?? line}` }))
      }
    })
  })

/** botocore picks the same source, with temporary keys; `profile` as named in code (`Session(profile=...)`). */
const expectParity = (env: Env, ours: Credentials.Credentials, profile?: string) =>
  Effect.gen(function*() {
    const theirs = yield* botocore(env, profile)
    assert.isTrue(theirs.ok, JSON.stringify(theirs))
    assert.strictEqual(theirs.method, ours.source)
    assert.match(theirs.accessKey ?? "", /^ASIA/)
  })

suite(`STS on moto with IAM auth${suffix}`, () => {
  it.scopedLive("static keys -> RoleB -> RoleA: signed calls moto verifies; the credentials sign S3", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const moto = authMoto.current()
      home.writeConfig([
        "[profile dev]",
        `role_arn = ${roleA}`,
        "source_profile = mid",
        "role_session_name = dev-session",
        "[profile mid]",
        `role_arn = ${roleB}`,
        "source_profile = base",
        ""
      ].join("\n"))
      home.writeCredentials(`[base]\naws_access_key_id = ${user.accessKeyId}\naws_secret_access_key = ${user.secretAccessKey}\n`)
      const env = baseEnv(home, moto.url, { AWS_PROFILE: "dev" })
      const exit = yield* runWith(assumeRole as SourceLayer, { env }, Effect.gen(function*() {
        const credentials = yield* Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get)
        const used = yield* useCredentials(moto.url)
        return { credentials, ...used }
      }))
      const { arn, credentials, status } = getSuccess(exit)
      assert.strictEqual(credentials.source, "assume-role")
      assert.match(credentials.accessKeyId, /^ASIA/)
      assert.strictEqual(
        credentials.provenance,
        `profile dev -> assume-role ${roleA} -> profile mid -> assume-role ${roleB} -> ` +
          `profile base (shared-credentials-file ${home.credentialsPath}:2), ` +
          `via STS us-east-1 (${moto.url} from AWS_ENDPOINT_URL_STS, region from AWS_REGION)`
      )
      assert.strictEqual(status, 200)
      assert.strictEqual(arn, `arn:aws:sts::${accountId}:assumed-role/RoleA/dev-session`)
      yield* expectParity(env, credentials)
    }))

  it.scopedLive("credential_source = Environment", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const moto = authMoto.current()
      home.writeConfig(`[profile dev]\nrole_arn = ${roleA}\ncredential_source = Environment\n`)
      const env = baseEnv(home, moto.url, {
        AWS_PROFILE: "dev",
        AWS_ACCESS_KEY_ID: user.accessKeyId,
        AWS_SECRET_ACCESS_KEY: user.secretAccessKey
      })
      // With the profile named explicitly, env credentials drop out of the chain, but
      // credential_source = Environment still reads them (as in botocore).
      const exit = yield* runWith(assumeRole as SourceLayer, { env, session: { profile: "dev" } }, Effect.gen(function*() {
        const credentials = yield* Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get)
        return { credentials, ...(yield* useCredentials(moto.url)) }
      }))
      const { arn, credentials, status } = getSuccess(exit)
      assert.strictEqual(credentials.source, "assume-role")
      assert.include(credentials.provenance, "credential_source Environment (environment variables")
      assert.strictEqual(status, 200)
      assert.match(arn ?? "", /:assumed-role\/RoleA\/botocore-session-\d+$/)
      yield* expectParity(env, credentials, "dev")
    }))

  it.scopedLive("credential_process at the root", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const moto = authMoto.current()
      const script = home.script(
        "creds.sh",
        `printf '%s' ${shellQuote(processJson({ AccessKeyId: user.accessKeyId, SecretAccessKey: user.secretAccessKey }))}`
      )
      home.writeConfig(`[profile dev]\nrole_arn = ${roleA}\nsource_profile = tool\n[profile tool]\ncredential_process = ${script}\n`)
      const env = baseEnv(home, moto.url, { AWS_PROFILE: "dev" })
      const exit = yield* runWith(assumeRole as SourceLayer, { env }, Effect.gen(function*() {
        const credentials = yield* Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get)
        return { credentials, ...(yield* useCredentials(moto.url)) }
      }))
      const { credentials, status } = getSuccess(exit)
      assert.include(credentials.provenance, `credential_process "${script}" of profile tool`)
      assert.strictEqual(status, 200)
      yield* expectParity(env, credentials)
    }))

  it.scopedLive("a wrong source secret: STS answers SignatureDoesNotMatch, and so does S3", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const moto = authMoto.current()
      const wrong = `${user.secretAccessKey.slice(0, -4)}XXXX`
      home.writeConfig(`[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\n`)
      home.writeCredentials(`[base]\naws_access_key_id = ${user.accessKeyId}\naws_secret_access_key = ${wrong}\n`)
      const exit = yield* resolveWith(assumeRole as SourceLayer, { env: baseEnv(home, moto.url, { AWS_PROFILE: "dev" }) })
      const error = getFailure(exit)
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag === "CredentialsError") {
        assert.strictEqual(error.reason, "ServiceError")
        assert.include(error.message, "SignatureDoesNotMatch (HTTP 403)")
        assert.include(error.message, `STS in us-east-1 (${moto.url}, AWS_ENDPOINT_URL_STS)`)
      }
      assertNoSecrets(exit, [wrong, user.secretAccessKey])

      const s3 = new S3Client({
        region: "us-east-1",
        endpoint: moto.url,
        forcePathStyle: true,
        maxAttempts: 1,
        credentials: { accessKeyId: user.accessKeyId, secretAccessKey: wrong }
      })
      const s3Error = yield* Effect.promise(() => s3.send(new ListBucketsCommand({})).then(() => undefined, (e: Error) => e))
      s3.destroy()
      assert.strictEqual(s3Error?.name, "SignatureDoesNotMatch")
    }))
})

suite(`web identity on an open moto${suffix}`, () => {
  it.scopedLive("AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN: unsigned call, credentials back", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const moto = openMoto.current()
      const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"
      const tokenFile = home.write("token.jwt", token)
      const roleArn = `arn:aws:iam::${accountId}:role/WebRole`
      const env = baseEnv(home, moto.url, { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: roleArn })
      const { credentials } = getSuccess(yield* resolveWith(webIdentity as SourceLayer, { env }))
      assert.strictEqual(credentials.source, "assume-role-with-web-identity")
      assert.match(credentials.accessKeyId, /^ASIA/)
      assert.isAbove(Redacted.value(credentials.secretAccessKey).length, 10)
      assert.strictEqual(credentials.expiration._tag, "Some")
      assertNoSecrets(credentials, [token])
      yield* expectParity(env, credentials)
    }))

  it.scopedLive("a web identity source profile at the root of a role chain", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const moto = openMoto.current()
      const tokenFile = home.write("token.jwt", "eyJ.chain.sig")
      home.writeConfig([
        "[profile dev]",
        `role_arn = arn:aws:iam::${accountId}:role/WebRole`,
        "source_profile = ci",
        "[profile ci]",
        `role_arn = arn:aws:iam::${accountId}:role/WebRole`,
        `web_identity_token_file = ${tokenFile}`,
        ""
      ].join("\n"))
      const env = baseEnv(home, moto.url, { AWS_PROFILE: "dev" })
      const { credentials } = getSuccess(yield* resolveWith(assumeRole as SourceLayer, { env }))
      assert.strictEqual(credentials.source, "assume-role")
      assert.include(credentials.provenance, "-> profile ci (assume-role-with-web-identity")
      yield* expectParity(env, credentials)
    }))
})

// Issue 4's cross-process cache: `AssumeRole.layerWith({ cache: "cli" })` shares assumed-role
// credentials through the AWS CLI's ~/.aws/cli/cache/<key>.json. Real child processes (tsx running
// test/services/cliCacheClient.ts), moto with IAM auth; moto issues a new key for every
// AssumeRole, so equal keys in two processes prove that the second one used the first one's file.
const tsx = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "node_modules", ".bin", "tsx")
const cacheClient = path.join(path.dirname(fileURLToPath(import.meta.url)), "cliCacheClient.ts")

const runChild = (file: string, args: ReadonlyArray<string>, env: Env) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(file, args, { env: { PATH: process.env.PATH, ...env }, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ status: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }))
  })

/** The access key id the client process printed (a test failure with its stderr otherwise). */
const clientKey = async (env: Env): Promise<string> => {
  const result = await runChild(tsx, [cacheClient], env)
  assert.strictEqual(result.status, 0, result.stderr)
  return result.stdout.trim()
}

/** moto's AssumeRole sessions of one role and session name, as access key ids in issue order. */
const sessionsOf = async (url: string, roleArn: string, sessionName: string): Promise<ReadonlyArray<string>> => {
  const data = await (await fetch(`${url}/moto-api/data.json`)).json() as {
    sts?: { AssumedRole?: Array<{ access_key_id: string; role_arn: string; session_name: string }> }
  }
  return (data.sts?.AssumedRole ?? [])
    .filter((r) => r.role_arn === roleArn && r.session_name === sessionName)
    .map((r) => r.access_key_id)
}

/** The CLI's cache key, computed by Python as botocore computes it. */
const pythonCacheKey = (args: Record<string, string | number>): string =>
  execFileSync("python3", [
    "-c",
    "import json,hashlib,sys; print(hashlib.sha1(json.dumps(json.loads(sys.argv[1]), sort_keys=True).encode()).hexdigest())",
    JSON.stringify(args)
  ], { encoding: "utf8" }).trim()

/** botocore with the AWS CLI's cache wired in (what the CLI does): method and access key. */
const botocoreWithCliCache = `
import os, botocore.session
from botocore.utils import JSONFileCache
session = botocore.session.Session()
session.get_component("credential_provider").get_provider("assume-role").cache = JSONFileCache(
    os.path.expanduser(os.path.join("~", ".aws", "cli", "cache")))
credentials = session.get_credentials()
print(credentials.method, credentials.get_frozen_credentials().access_key)
`

suite(`the AWS CLI cache shared by processes (moto with IAM auth)${suffix}`, () => {
  const sessionName = "cli-cache"

  const setupHome = (home: TempHome): Env => {
    home.writeConfig(`[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\nrole_session_name = ${sessionName}\n`)
    home.writeCredentials(`[base]\naws_access_key_id = ${user.accessKeyId}\naws_secret_access_key = ${user.secretAccessKey}\n`)
    return {
      HOME: home.dir,
      AWS_PROFILE: "dev",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_ENDPOINT_URL_STS: authMoto.current().url,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true"
    }
  }

  it.scopedLive("two processes share one AssumeRole; the file is the CLI's (key, 0600, ...UTC); a corrupt file is ignored", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const moto = authMoto.current()
      const env = setupHome(home)
      const before = yield* Effect.promise(() => sessionsOf(moto.url, roleA, sessionName))

      const first = yield* Effect.promise(() => clientKey(env))
      const second = yield* Effect.promise(() => clientKey(env))
      assert.match(first, /^ASIA/)
      assert.strictEqual(second, first, "the second process used the first one's cached credentials")
      const afterTwo = yield* Effect.promise(() => sessionsOf(moto.url, roleA, sessionName))
      assert.deepStrictEqual(afterTwo.slice(before.length), [first], "exactly one AssumeRole for both processes")

      const key = pythonCacheKey({ RoleArn: roleA, RoleSessionName: sessionName })
      const file = path.join(home.dir, ".aws", "cli", "cache", `${key}.json`)
      assert.deepStrictEqual(fs.readdirSync(path.dirname(file)), [`${key}.json`])
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      const cached = JSON.parse(fs.readFileSync(file, "utf8")) as { Credentials: Record<string, string> }
      assert.strictEqual(cached.Credentials.AccessKeyId, first)
      assert.match(cached.Credentials.Expiration ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dUTC$/)

      // botocore, wired to the cache the way the AWS CLI wires it, reads our file: same key, no call.
      const botocore = yield* Effect.promise(() => runChild("python3", ["-c", botocoreWithCliCache], env))
      assert.strictEqual(botocore.stdout.trim(), `assume-role ${first}`, botocore.stderr)
      assert.strictEqual((yield* Effect.promise(() => sessionsOf(moto.url, roleA, sessionName))).length, afterTwo.length)

      // A corrupt file is ignored: a new AssumeRole, and the file is replaced with valid content.
      fs.writeFileSync(file, "{\"Credentials\": {\"AccessKeyId\": ")
      const third = yield* Effect.promise(() => clientKey(env))
      assert.notStrictEqual(third, first)
      const afterCorrupt = yield* Effect.promise(() => sessionsOf(moto.url, roleA, sessionName))
      assert.deepStrictEqual(afterCorrupt.slice(afterTwo.length), [third])
      const rewritten = JSON.parse(fs.readFileSync(file, "utf8")) as { Credentials: Record<string, string> }
      assert.strictEqual(rewritten.Credentials.AccessKeyId, third)
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      // No temporary file is left behind.
      assert.deepStrictEqual(fs.readdirSync(path.dirname(file)), [`${key}.json`])
    }), { timeout: 120_000 })

  it.scopedLive("a cache file the AWS CLI wrote is used as it is (no AssumeRole)", () =>
    Effect.gen(function*() {
      const aws = (() => {
        try {
          return execFileSync("sh", ["-c", "command -v aws"], { encoding: "utf8" }).trim()
        } catch {
          return ""
        }
      })()
      // The machine image has the AWS CLI (v1, on botocore 1.43) beside moto; without it this
      // test fails rather than passing without checking anything.
      assert.notStrictEqual(aws, "", "the AWS CLI (`aws`) is not on PATH: install awscli (pip) to run the services tier")
      const home = yield* tempHome
      const moto = authMoto.current()
      const env = setupHome(home)
      const identity = yield* Effect.promise(() =>
        runChild(aws, ["sts", "get-caller-identity", "--output", "json"], env)
      )
      assert.strictEqual(identity.status, 0, identity.stderr)
      assert.match((JSON.parse(identity.stdout) as { Arn: string }).Arn, new RegExp(`:assumed-role/.+/${sessionName}$`))
      const key = pythonCacheKey({ RoleArn: roleA, RoleSessionName: sessionName })
      const written = JSON.parse(
        fs.readFileSync(path.join(home.dir, ".aws", "cli", "cache", `${key}.json`), "utf8")
      ) as { Credentials: Record<string, string> }
      const before = yield* Effect.promise(() => sessionsOf(moto.url, roleA, sessionName))
      const ours = yield* Effect.promise(() => clientKey(env))
      assert.strictEqual(ours, written.Credentials.AccessKeyId)
      assert.strictEqual((yield* Effect.promise(() => sessionsOf(moto.url, roleA, sessionName))).length, before.length)
    }), { timeout: 120_000 })
})
