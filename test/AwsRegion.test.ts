import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AwsRegion from "../src/AwsRegion.js"
import * as AwsSession from "../src/AwsSession.js"
import { type Env, getFailure, getSuccess, platformLayer, tempHome, withEnv } from "./support/fixtures.js"

const region = (env: Env, options?: AwsSession.Options) =>
  AwsRegion.AwsRegion.pipe(
    Effect.provide(AwsRegion.layer.pipe(Layer.provide(AwsSession.layer(options)), Layer.provide(platformLayer))),
    withEnv(env),
    Effect.exit
  )

describe("AwsRegion", () => {
  it.scoped("precedence: explicit > AWS_REGION > AWS_DEFAULT_REGION > profile region, with the source", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig("[default]\nregion = eu-central-1\n\n[profile dev]\n# dev region\nregion = ap-south-1\n")
      const all = { AWS_REGION: "us-west-2", AWS_DEFAULT_REGION: "us-east-2" }

      assert.deepStrictEqual(
        getSuccess(yield* region(home.env(all), { region: "sa-east-1" })),
        { name: "sa-east-1", source: "explicit" }
      )
      assert.deepStrictEqual(getSuccess(yield* region(home.env(all))), { name: "us-west-2", source: "env AWS_REGION" })
      assert.deepStrictEqual(
        getSuccess(yield* region(home.env({ ...all, AWS_REGION: "" }))),
        { name: "us-east-2", source: "env AWS_DEFAULT_REGION" }
      )
      assert.deepStrictEqual(
        getSuccess(yield* region(home.env())),
        { name: "eu-central-1", source: "profile default", path: home.configPath, line: 2 }
      )
      assert.deepStrictEqual(
        getSuccess(yield* region(home.env({ AWS_PROFILE: "dev" }))),
        { name: "ap-south-1", source: "profile dev", path: home.configPath, line: 6 }
      )
      assert.deepStrictEqual(
        getSuccess(yield* region(home.env(), { profile: "dev", region: "" })),
        { name: "ap-south-1", source: "profile dev", path: home.configPath, line: 6 }
      )
    }))

  it.scoped("no region anywhere is RegionNotFound, listing where it looked", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig("[profile dev]\noutput = json\nregion =\n")
      for (const vars of [{}, { AWS_PROFILE: "dev", AWS_REGION: "", AWS_DEFAULT_REGION: "" }]) {
        const error = getFailure(yield* region(home.env(vars)))
        assert.strictEqual(error._tag, "RegionNotFound")
        if (error._tag !== "RegionNotFound") return
        assert.include(error.message, "AWS_REGION")
        assert.include(error.message, "AWS_DEFAULT_REGION")
        assert.include(error.message, `profile ${vars.AWS_PROFILE ?? "default"}`)
      }
    }))

  it.effect("layerStatic is explicit", () =>
    Effect.gen(function*() {
      const service = yield* Effect.provide(AwsRegion.AwsRegion, AwsRegion.layerStatic("eu-north-1"))
      assert.deepStrictEqual(service, { name: "eu-north-1", source: "explicit" })
    }))
})
