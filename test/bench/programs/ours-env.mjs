// A minimal program: import the package, resolve environment credentials, print the source.
import * as Effect from "effect/Effect"
import { AwsCredentials, EnvCredentials } from "../../../dist/index.js"

const credentials = await Effect.runPromise(
  Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get).pipe(Effect.provide(EnvCredentials.layer))
)
console.log(credentials.source, credentials.accessKeyId)
