/**
 * Each link of the chain runs inside a span named after its source (so a trace shows which
 * source ran), one span for the whole chain, and no span attribute carries a secret.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { current, defaultChain, runWith, tempHome } from "./support/fixtures.js"
import { recordingTracer } from "./support/spans.js"

describe("tracing", () => {
  it.scoped("a span per link that ran, named after its source, and one for the chain", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const secret = "tracingSecretNeverInASpan000000000000001"
      home.writeCredentials(`[default]\naws_access_key_id = AKIATRACE\naws_secret_access_key = ${secret}\n`)
      const { spans, tracer } = recordingTracer()
      const exit = yield* runWith(defaultChain(home), { env: home.env() }, current).pipe(Effect.withTracer(tracer))
      assert.isTrue(exit._tag === "Success")
      const names = spans.map((s) => s.name)
      // Every link up to the winner, in order: env, the three remote links that read the profile,
      // then the credentials file.
      const ran = ["env", "assume-role", "assume-role-with-web-identity", "sso", "shared-credentials-file"]
      assert.includeMembers(names, ["CredentialChain.default", ...ran.map((source) => `AwsCredentials.${source}`)])
      const order = ran.map((source) => names.indexOf(`AwsCredentials.${source}`))
      assert.deepStrictEqual(order, [...order].sort((a, b) => a - b))
      for (const source of ran) {
        assert.strictEqual(spans.find((s) => s.name === `AwsCredentials.${source}`)!.attributes.get("source"), source)
      }
      assert.notInclude(names, "AwsCredentials.custom-process", "links after the winner do not run")
      for (const span of spans) {
        assert.notInclude(JSON.stringify([...span.attributes.entries()]), secret)
      }
    }))
})
