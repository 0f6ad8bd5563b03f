// ours-chain.mjs timed from the inside: building the default chain's layer and the first
// resolution, after the imports (static imports are evaluated before this module's body runs).
import * as Effect from "effect/Effect"
import { AwsCredentials, CredentialChain } from "effect-aws-credentials"

const start = performance.now()
const credentials = await Effect.runPromise(
  Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get).pipe(
    Effect.provide(CredentialChain.layerNode())
  )
)
const ms = performance.now() - start
console.log(JSON.stringify({ ms, source: credentials.source }))
