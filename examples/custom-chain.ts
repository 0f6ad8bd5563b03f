/**
 * A custom chain in one expression: environment, then a credential process with a shorter
 * timeout, then the shared credentials file. Prints what it found and what it tried.
 *
 *   npm run example -- examples/custom-chain.ts
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import {
  AwsCredentials,
  AwsSession,
  CredentialChain,
  EnvCredentials,
  ProcessCredentials,
  SharedCredentialsFile
} from "effect-aws-credentials"

const MyChain = CredentialChain.make(
  EnvCredentials.layer,
  ProcessCredentials.layerWith({ timeout: "10 seconds" }),
  SharedCredentialsFile.layer
)

const program = Effect.gen(function*() {
  const credentials = yield* AwsCredentials.AwsCredentials
  const current = yield* credentials.get
  yield* Console.log(`${current.source}: ${current.accessKeyId}`)
  for (const attempt of credentials.attempts) yield* Console.log(`  ${attempt.source}: ${attempt.outcome}, ${attempt.reason}`)
})

const PlatformLive = Layer.merge(
  NodeFileSystem.layer,
  NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer))
)

program.pipe(
  Effect.provide(MyChain.pipe(Layer.provide(AwsSession.layer()), Layer.provide(PlatformLive))),
  // Layer errors surface here, typed: a broken source stops the chain, or nothing was found.
  Effect.catchTags({
    NoCredentialsFound: (error) => Console.log(error.message),
    CredentialsError: (error) => Console.log(`${error.reason}: ${error.message}`)
  }),
  NodeRuntime.runMain
)
