// For scale: the least an Effect program does to serve environment credentials, the same work
// as the SDK's `fromEnv()`: one `Layer.scoped` reading three variables through `Config`, provided
// to one `Effect.runPromise`. Timed from the inside like ours-chain-build.mjs; what this costs
// is Effect's own start-up (its first fiber, layer and config read), which no library on Effect
// avoids.
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

class Keys extends Context.Tag("Keys")() {}

const layer = Layer.scoped(
  Keys,
  Effect.gen(function*() {
    const accessKeyId = yield* Config.string("AWS_ACCESS_KEY_ID")
    const secretAccessKey = yield* Config.redacted("AWS_SECRET_ACCESS_KEY")
    const sessionToken = yield* Config.option(Config.redacted("AWS_SESSION_TOKEN"))
    yield* Effect.addFinalizer(() => Effect.void)
    return { get: Effect.succeed({ accessKeyId, secretAccessKey, sessionToken }) }
  })
)

const start = performance.now()
const keys = await Effect.runPromise(Effect.flatMap(Keys, (service) => service.get).pipe(Effect.provide(layer)))
const ms = performance.now() - start
console.log(JSON.stringify({ ms, source: keys.accessKeyId.slice(0, 4) }))
