/**
 * Resolves the default chain (`CredentialChain.layerNode()`, as an application does) once per
 * environment given as a JSON array on stdin, inside the app's own timeout, and prints one JSON
 * line per run: the outcome, how long it took and the resident memory. Then it simply ends: if
 * anything (a blocked read, a socket, a timer) were left behind, the process would not exit, and
 * the test that runs it notices.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { AwsCredentials, CredentialChain } from "../../../src/index.js"

const environments = JSON.parse(fs.readFileSync(0, "utf8")) as ReadonlyArray<Record<string, string>>

for (const env of environments) {
  const started = performance.now()
  const outcome = await Effect.runPromise(
    Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get).pipe(
      Effect.provide(CredentialChain.layerNode()),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.timeout("10 seconds"),
      Effect.match({
        onSuccess: (credentials) => ({ _tag: "Resolved", source: credentials.source }),
        onFailure: (error) => ({
          _tag: error._tag,
          reason: "reason" in error ? error.reason : undefined,
          message: error.message
        })
      })
    )
  )
  console.log(JSON.stringify({
    ...outcome,
    ms: Math.round(performance.now() - started),
    rssMiB: Math.round(process.memoryUsage().rss / 1024 / 1024)
  }))
}
