// The same as ours-env.mjs, importing the modules by subpath instead of the package root.
import * as Effect from "effect/Effect"
import * as AwsCredentials from "effect-aws-credentials/AwsCredentials"
import * as EnvCredentials from "effect-aws-credentials/providers/EnvCredentials"

const credentials = await Effect.runPromise(
  Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get).pipe(Effect.provide(EnvCredentials.layer))
)
console.log(credentials.source, credentials.accessKeyId)
