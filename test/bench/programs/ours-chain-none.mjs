// The default chain in one layer, where nothing is configured: prints the failure's tag and the
// links it lists, and exits 0 when that is NoCredentialsFound (the expected outcome).
import * as Effect from "effect/Effect"
import { AwsCredentials, CredentialChain } from "effect-aws-credentials"

const outcome = await Effect.runPromise(
  Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get).pipe(
    Effect.provide(CredentialChain.layerNode()),
    Effect.either
  )
)
if (outcome._tag === "Right") {
  console.log("resolved", outcome.right.source)
  process.exit(1)
}
const error = outcome.left
console.log(error._tag, (error.attempts ?? []).map((attempt) => attempt.source).join(","))
process.exit(error._tag === "NoCredentialsFound" ? 0 : 1)
