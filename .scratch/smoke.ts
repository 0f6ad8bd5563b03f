import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Chunk from "effect/Chunk"
import { AwsCredentials, AwsRegion, S3 } from "../src/index.js"

const program = Effect.gen(function*() {
  const s3 = yield* S3.S3
  yield* s3.createBucket("smoke-bkt")
  console.log(yield* s3.putObject("smoke-bkt", "a/b c+d%é", "hello", { contentType: "text/plain", metadata: { Foo: "bar" } }))
  console.log(yield* s3.getObjectText("smoke-bkt", "a/b c+d%é"))
  const stream = Stream.fromIterable([new Uint8Array([1,2,3]), new Uint8Array([4,5])])
  console.log(yield* s3.putObject("smoke-bkt", "s", stream, { contentLength: 5 }))
  console.log(yield* s3.getObjectBytes("smoke-bkt", "s", { range: { start: 1, end: 2 } }))
  console.log(yield* s3.headObject("smoke-bkt", "nokey"))
  console.log(Chunk.toArray(yield* Stream.runCollect(s3.listObjects("smoke-bkt"))).map(o => o.key))
  const big = Stream.range(0, 99).pipe(Stream.map(() => new Uint8Array(128 * 1024).fill(7)))
  console.log(yield* s3.upload("smoke-bkt", "big", big, { partSize: 5 * 1024 * 1024 }))
  console.log(yield* s3.presignGetObject("smoke-bkt", "a/b c+d%é"))
  const url = (yield* s3.presignGetObject("smoke-bkt", "a/b c+d%é")).url
  const res = yield* Effect.promise(() => fetch(url))
  console.log(res.status, yield* Effect.promise(() => res.text()))
  const put = (yield* s3.presignPutObject("smoke-bkt", "pp")).url
  const r2 = yield* Effect.promise(() => fetch(put, { method: "PUT", body: "presigned!" }))
  console.log(r2.status, yield* s3.getObjectText("smoke-bkt", "pp"))
  console.log(yield* s3.deleteObjects("smoke-bkt", ["a/b c+d%é", "s", "big", "pp", "nokey"]))
  console.log(yield* s3.getObject("smoke-bkt", "nokey").pipe(Effect.scoped, Effect.flip))
  console.log(yield* s3.listMultipartUploads("smoke-bkt"))
})
const layer = S3.layer({ endpoint: "http://127.0.0.1:5999", forcePathStyle: true }).pipe(
  Layer.provide(Layer.merge(AwsCredentials.layerStatic({ accessKeyId: "AKIDSMOKE", secretAccessKey: "smokeSecret" }), AwsRegion.layerStatic("us-east-1"))))
Effect.runPromise(program.pipe(Effect.provide(layer))).catch((e) => { console.error("FAILED", e); process.exit(1) })
