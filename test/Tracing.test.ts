/**
 * Each link of the chain runs inside a span named after its source (so a trace shows which
 * source ran), one span for the whole chain, and no span attribute carries a secret.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { current, defaultChain, runWith, tempHome } from "./support/fixtures.js"

interface Recorded {
  readonly name: string
  readonly parent: string | undefined
  readonly attributes: Map<string, unknown>
}

const recordingTracer = () => {
  const spans: Array<Recorded> = []
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      const attributes = new Map<string, unknown>(Object.entries(options?.attributes ?? {}))
      const recorded: Recorded = {
        name,
        parent: Option.match(parent, { onNone: () => undefined, onSome: (p) => (p._tag === "Span" ? p.name : undefined) }),
        attributes
      }
      spans.push(recorded)
      const self: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: String(spans.length),
        traceId: "trace",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        end: () => {},
        attribute: (key, value) => {
          attributes.set(key, value)
        },
        event: () => {},
        addLinks: () => {}
      }
      return self
    },
    context: (f) => f()
  })
  return { spans, tracer }
}

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
