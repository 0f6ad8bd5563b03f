/**
 * A tiny program for the cross-process cache test in sts.test.ts: resolves the active profile's
 * assumed role (environment and files as a user's program sees them) with the AWS CLI cache on
 * (`AssumeRole.layerWith({ cache: "cli" })`) and prints only the access key id. Exits 2 with the
 * error's message (never a secret) when it fails.
 *
 * Run: `tsx test/services/cliCacheClient.ts` with HOME, AWS_PROFILE, AWS_DEFAULT_REGION and
 * AWS_ENDPOINT_URL_STS set.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AwsCredentials } from "../../src/AwsCredentials.js"
import * as AwsSession from "../../src/AwsSession.js"
import { platformLayer as nodePlatform } from "../../src/internal/nodePlatform.js"
import * as AssumeRole from "../../src/providers/AssumeRole.js"

const layer = AssumeRole.layerWith({ cache: "cli", timeout: "10 seconds", maxAttempts: 2 }).pipe(
  Layer.provideMerge(AwsSession.layer()),
  Layer.provide(nodePlatform)
)

const outcome = await Effect.runPromise(
  Effect.flatMap(AwsCredentials, (service) => service.get).pipe(Effect.provide(layer), Effect.either)
)
if (outcome._tag === "Right") {
  process.stdout.write(`${outcome.right.accessKeyId}\n`)
} else {
  process.stderr.write(`${outcome.left._tag}: ${outcome.left.message}\n`)
  process.exitCode = 2
}
