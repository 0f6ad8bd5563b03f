// The default chain in one layer (session files, Node platform), resolving environment credentials.
import * as Effect from "effect/Effect"
import { AwsCredentials, CredentialChain } from "effect-aws-credentials"

const credentials = await Effect.runPromise(
  Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get).pipe(
    Effect.provide(CredentialChain.layerNode())
  )
)
console.log(credentials.source, credentials.accessKeyId)
