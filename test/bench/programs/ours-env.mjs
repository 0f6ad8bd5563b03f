// A minimal program: import the package root, resolve environment credentials, print the source.
import * as Effect from "effect/Effect"
import { AwsCredentials, EnvCredentials } from "effect-aws-credentials"

const credentials = await Effect.runPromise(
  Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get).pipe(Effect.provide(EnvCredentials.layer))
)
console.log(credentials.source, credentials.accessKeyId)
