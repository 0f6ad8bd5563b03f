/**
 * S3 round trip: create a bucket, upload a stream, list, read back, presign, delete.
 *
 *   npm run example -- examples/s3-roundtrip.ts
 *     offline, on the in-memory S3 (`S3.layerMemory()`) and us-east-1, with credentials from
 *     the default chain (instance metadata switched off, as AWS_EC2_METADATA_DISABLED=true), or
 *     example keys when the machine has none: nothing touches the network.
 *
 *   S3_ENDPOINT=http://127.0.0.1:9000 npm run example -- examples/s3-roundtrip.ts
 *     against a server: credentials from the default chain (environment, ~/.aws, ...), the
 *     region from the session (us-east-1 when none is set). `S3_COMPAT=s3-compatible` for
 *     MinIO, Ceph, Swift or R2.
 *
 * The program only asks for the `S3` service; which S3 it gets is decided by the layer.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { AwsCredentials, AwsRegion, AwsSession, CredentialChain, S3 } from "effect-aws-credentials"

const program = Effect.gen(function*() {
  const credentials = yield* (yield* AwsCredentials.AwsCredentials).get
  const region = yield* AwsRegion.AwsRegion
  yield* Console.log(`Credentials from ${credentials.source} (${credentials.accessKeyId}), region ${region.name}`)

  const s3 = yield* S3.S3
  const bucket = `roundtrip-${(yield* Clock.currentTimeMillis).toString(36)}`
  yield* s3.createBucket(bucket)
  yield* Console.log(`Created s3://${bucket}`)

  // A stream of unknown length (about 13 MB of log lines): `upload` sends it in 5 MiB parts,
  // two at a time, never holding more than 10 MiB of it.
  const lines = Stream.range(1, 500_000).pipe(
    Stream.map((n) => `${String(n).padStart(7, "0")} GET /index.html 200\n`),
    Stream.encodeText
  )
  const uploaded = yield* s3.upload(bucket, "logs/access.log", lines, {
    contentType: "text/plain",
    partSize: 5 * 1024 * 1024,
    concurrency: 2
  })
  yield* Console.log(`Uploaded ${uploaded.size} bytes in ${uploaded.parts} parts, ETag ${uploaded.etag}`)
  yield* s3.putObject(bucket, "logs/README", "Access logs, one line per request.\n")

  const listed = yield* Stream.runCollect(s3.listObjects(bucket, { prefix: "logs/" }))
  for (const object of listed) yield* Console.log(`  ${object.key.padEnd(18)} ${object.size} bytes`)

  // Read it back as a stream: count the lines without holding the object in memory.
  const count = yield* Effect.scoped(
    Effect.flatMap(s3.getObject(bucket, "logs/access.log"), (object) =>
      object.body.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCount))
  )
  yield* Console.log(`Read back ${count} lines; the README says: ${(yield* s3.getObjectText(bucket, "logs/README")).trim()}`)

  const signed = yield* s3.presignGetObject(bucket, "logs/README", { expiresIn: "10 minutes" })
  yield* Console.log(
    `Presigned GET, valid for ${Duration.format(signed.expiresIn)}${
      Option.isSome(signed.clampedBy) ? ` (clamped by the ${signed.clampedBy.value})` : ""
    }:\n  ${signed.url.slice(0, 100)}...`
  )

  // boto3: s3.Object(bucket, key).delete()
  yield* S3.object(bucket, "logs/README").delete()
  const { deleted } = yield* s3.deleteObjects(bucket, ["logs/access.log"])
  yield* s3.deleteBucket(bucket)
  yield* Console.log(`Deleted ${deleted + 1} objects and the bucket`)
})

/**
 * In memory, offline: the default chain without its instance-metadata link (the environment
 * is read with AWS_EC2_METADATA_DISABLED=true on top), or example keys when it finds nothing;
 * a fixed region.
 */
const offlineEnvironment = ConfigProvider.fromMap(new Map([["AWS_EC2_METADATA_DISABLED", "true"]])).pipe(
  ConfigProvider.orElse(() => ConfigProvider.fromEnv())
)
const offlineCredentials = Layer.orElse(
  Layer.fresh(CredentialChain.layerNode()),
  () => AwsCredentials.layerStatic({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "example-secret-never-printed" })
).pipe(Layer.provide(Layer.setConfigProvider(offlineEnvironment)))
const memory = S3.layerMemory().pipe(
  Layer.provideMerge(Layer.merge(offlineCredentials, AwsRegion.layerStatic("us-east-1")))
)

/** A server: the default chain, the session's region (us-east-1 when none is set). */
const remote = (endpoint: string, compat: "aws" | "s3-compatible") => {
  const session = AwsSession.layerNode()
  const region = AwsRegion.layer.pipe(
    Layer.provide(session),
    Layer.orElse(() => AwsRegion.layerStatic("us-east-1"))
  )
  return S3.layer({ endpoint, forcePathStyle: true, compat }).pipe(
    Layer.provideMerge(Layer.merge(CredentialChain.layerNode(), region))
  )
}

const S3Live = Layer.unwrapEffect(
  Effect.gen(function*() {
    const endpoint = yield* Config.option(Config.nonEmptyString("S3_ENDPOINT"))
    const compat = yield* Config.literal("aws", "s3-compatible")("S3_COMPAT").pipe(Config.withDefault("aws" as const))
    return Option.match(endpoint, {
      onNone: () => memory,
      onSome: (url) => remote(url, compat)
    })
  })
)

program.pipe(
  Effect.provide(S3Live),
  // A readable line and a failing exit status, not a stack trace.
  Effect.tapError((error) => Console.error(`${error._tag}: ${error.message}`)),
  Effect.catchAll(() => Effect.sync(() => {
    process.exitCode = 1
  })),
  NodeRuntime.runMain
)
