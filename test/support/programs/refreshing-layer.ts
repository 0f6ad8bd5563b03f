/**
 * A program that provides a source layer whose credentials expire (so the refresh engine forks
 * its background fiber), reads them once and ends. Used to check that nothing holds the
 * process open.
 */
import * as Effect from "effect/Effect"
import { AwsCredentials, EnvCredentials } from "../../../src/index.js"

const credentials = await Effect.runPromise(
  Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get).pipe(Effect.provide(EnvCredentials.layer))
)
console.log(credentials.source)
