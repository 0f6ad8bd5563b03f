/**
 * Quickstart: provide the default credential chain to a small program and show which source
 * it used and why the others were skipped.
 *
 *   npm run example -- examples/quickstart.ts          offline demo on a temporary profile it writes
 *   npm run example -- examples/quickstart.ts --real   the same program on your real environment and ~/.aws
 *
 * The demo needs no network and no AWS account: it writes a throw-away `~/.aws` into a
 * temporary directory (one profile with static keys, one with a `credential_process`), points
 * HOME at it through a `ConfigProvider` (the library reads every variable through `Config`),
 * and removes it at the end.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AwsCredentials, AwsRegion, AwsSession, CredentialChain } from "effect-aws-credentials"

/** The application: it only asks for `AwsCredentials` and `AwsRegion`. */
const program = Effect.gen(function*() {
  const credentials = yield* AwsCredentials.AwsCredentials
  const current = yield* credentials.get
  const region = yield* AwsRegion.AwsRegion
  yield* Console.log(`Credentials from ${current.source}: ${current.accessKeyId}`)
  yield* Console.log(`  provenance: ${current.provenance}`)
  // Printing the value itself is safe: secrets are Redacted.
  yield* Console.log(`  the value prints as: ${JSON.stringify(current)}`)
  yield* Console.log(`Region ${region.name} (${region.source})`)
  yield* Console.log("Chain:")
  for (const attempt of credentials.attempts) {
    yield* Console.log(`  ${attempt.source.padEnd(24)} ${attempt.outcome.padEnd(11)} ${attempt.reason}`)
  }
})

/**
 * Everything the program needs, from one session (the files are read once): the chain's layer
 * also provides its `AwsSession`, which the region resolver reads.
 */
const awsLayer = (options: AwsSession.Options) =>
  AwsRegion.layer.pipe(Layer.provideMerge(CredentialChain.layerNode(options)))

const realMode = process.argv.includes("--real")

const demo = Effect.acquireUseRelease(
  Effect.sync(() => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "effect-aws-credentials-demo-"))
    fs.mkdirSync(path.join(home, ".aws"))
    fs.writeFileSync(
      path.join(home, ".aws", "credentials"),
      [
        "[default]",
        "aws_access_key_id = AKIADEMODEFAULT00001",
        "aws_secret_access_key = demo-secret-that-is-never-printed-0001"
      ].join("\n")
    )
    // A credential_process profile: the process prints version 1 JSON, as `aws configure
    // export-credentials --format process` would.
    const script = path.join(home, "creds.js")
    fs.writeFileSync(
      script,
      `process.stdout.write(JSON.stringify({ Version: 1, AccessKeyId: "ASIADEMOPROCESS00002", SecretAccessKey: "demo-process-secret", SessionToken: "demo-token", Expiration: new Date(Date.now() + 3600e3).toISOString() }))`
    )
    fs.writeFileSync(
      path.join(home, ".aws", "config"),
      [
        "[default]",
        "region = eu-west-1",
        "",
        "[profile tools]",
        "region = us-east-2",
        `credential_process = ${JSON.stringify(process.execPath)} ${JSON.stringify(script)}`
      ].join("\n")
    )
    return home
  }),
  (home) => {
    const env = new Map([
      ["HOME", home],
      ["AWS_EC2_METADATA_DISABLED", "true"]
    ])
    return Effect.gen(function*() {
      yield* Console.log(`Demo home: ${home}\n`)
      yield* Console.log("1. The default profile (static keys in ~/.aws/credentials):")
      yield* program.pipe(Effect.provide(awsLayer({})))
      yield* Console.log("\n2. The profile 'tools', named in code (credential_process):")
      yield* program.pipe(Effect.provide(awsLayer({ profile: "tools" })))
      yield* Console.log("\n3. A test layer, as in your own tests:")
      yield* Effect.gen(function*() {
        const c = yield* (yield* AwsCredentials.AwsCredentials).get
        yield* Console.log(`Credentials from ${c.source}: ${String(c)}`)
      }).pipe(Effect.provide(AwsCredentials.layerStatic({ accessKeyId: "AKIDTEST", secretAccessKey: "test" })))
      yield* Console.log("\nRun `npm run demo -- --real` to use your own environment and ~/.aws.")
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(env)))
  },
  (home) => Effect.sync(() => fs.rmSync(home, { recursive: true, force: true }))
)

const real = program.pipe(
  Effect.provide(awsLayer({})),
  Effect.catchAll((error) => Console.error(`${error._tag}: ${error.message}`))
)

NodeRuntime.runMain((realMode ? real : demo).pipe(Effect.provide(NodeFileSystem.layer)).pipe(Effect.map(() => Option.none())))
