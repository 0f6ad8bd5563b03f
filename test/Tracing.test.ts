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
      assert.includeMembers(names, ["CredentialChain.default", "AwsCredentials.env", "AwsCredentials.shared-credentials-file"])
      assert.notInclude(names, "AwsCredentials.custom-process", "links after the winner do not run")
      const env = spans.find((s) => s.name === "AwsCredentials.env")!
      assert.strictEqual(env.attributes.get("source"), "env")
      for (const span of spans) {
        assert.notInclude(JSON.stringify([...span.attributes.entries()]), secret)
      }
    }))
})
