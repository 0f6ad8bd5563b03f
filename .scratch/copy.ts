import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AwsCredentials, AwsRegion, S3 } from "../src/index.js"
const program = Effect.gen(function*() {
  const s3 = yield* S3.S3
  yield* s3.createBucket("copy-bkt")
  yield* s3.putObject("copy-bkt", "src", "x", { metadata: { a: "1" } })
  yield* s3.copyObject({ bucket: "copy-bkt", key: "src" }, { bucket: "copy-bkt", key: "src" }, { metadata: { c: "3" } })
  console.log("self copy no change:", yield* Effect.either(s3.copyObject({ bucket: "copy-bkt", key: "src" }, { bucket: "copy-bkt", key: "src" })))
  console.log("ifmatch:", yield* Effect.either(s3.copyObject({ bucket: "copy-bkt", key: "src" }, { bucket: "copy-bkt", key: "x" }, { ifMatch: '"abc"' })))
})
const layer = S3.layer({ endpoint: "http://127.0.0.1:5999", forcePathStyle: true }).pipe(
  Layer.provide(Layer.merge(AwsCredentials.layerStatic({ accessKeyId: "AKIDSMOKE", secretAccessKey: "smokeSecret" }), AwsRegion.layerStatic("us-east-1"))))
Effect.runPromise(program.pipe(Effect.provide(layer))).catch((e) => { console.error("FAILED", e); process.exit(1) })
