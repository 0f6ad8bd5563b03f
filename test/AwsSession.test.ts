import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { AwsCredentials } from "../src/AwsCredentials.js"
import * as AwsSession from "../src/AwsSession.js"
import {
  defaultChain,
  type Env,
  getFailure,
  getSuccess,
  platformLayer,
  resolveWith,
  type TempHome,
  tempHome,
  withEnv
} from "./support/fixtures.js"

const session = (env: Env, options?: AwsSession.Options) =>
  AwsSession.make(options).pipe(Effect.provide(platformLayer), withEnv(env), Effect.exit)

/** Profiles default, dev, ci and test in the credentials file, each with its own key. */
const writeProfiles = (home: TempHome) =>
  home.writeCredentials(
    ["default", "dev", "ci", "test"].map((name) =>
      `[${name}]\naws_access_key_id = AKIA${name.toUpperCase()}\naws_secret_access_key = ${name}-secret\n`
    ).join("\n")
  )

describe("AwsSession: profile", () => {
  it.scoped("precedence: option > AWS_PROFILE > AWS_DEFAULT_PROFILE > default", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      writeProfiles(home)
      const cases: ReadonlyArray<readonly [Env, AwsSession.Options, string, AwsSession.ProfileSource]> = [
        [{ AWS_PROFILE: "ci", AWS_DEFAULT_PROFILE: "test" }, { profile: "dev" }, "dev", "option"],
        [{ AWS_PROFILE: "ci", AWS_DEFAULT_PROFILE: "test" }, {}, "ci", "AWS_PROFILE"],
        [{ AWS_PROFILE: "", AWS_DEFAULT_PROFILE: "test" }, {}, "test", "AWS_DEFAULT_PROFILE"],
        [{}, { profile: "" }, "default", "default"]
      ]
      for (const [vars, options, name, source] of cases) {
        const service = getSuccess(yield* session(home.env(vars), options))
        assert.strictEqual(service.profileName, name)
        assert.strictEqual(service.profileSource, source)
        const { credentials } = getSuccess(
          yield* resolveWith(defaultChain(home), { env: home.env(vars), session: options })
        )
        assert.strictEqual(credentials.accessKeyId, `AKIA${name.toUpperCase()}`)
      }
    }))

  it.scoped("a missing profile named by the option, AWS_PROFILE or AWS_DEFAULT_PROFILE is ProfileNotFound", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      writeProfiles(home)
      home.writeConfig("[profile only-in-config]\nregion = eu-west-1\n")
      const cases: ReadonlyArray<readonly [Env, AwsSession.Options, string]> = [
        [{}, { profile: "nope" }, "the profile option"],
        [{ AWS_PROFILE: "nope" }, {}, "AWS_PROFILE"],
        [{ AWS_DEFAULT_PROFILE: "nope" }, {}, "AWS_DEFAULT_PROFILE"]
      ]
      for (const [vars, options, origin] of cases) {
        const error = getFailure(yield* resolveWith(defaultChain(home), { env: home.env(vars), session: options }))
        assert.strictEqual(error._tag, "CredentialsError")
        if (error._tag !== "CredentialsError") return
        assert.strictEqual(error.reason, "ProfileNotFound")
        assert.strictEqual(error.profile, "nope")
        assert.include(error.message, origin)
        assert.include(error.message, "profiles defined: ci, default, dev, only-in-config, test")
        assert.include(error.message, home.configPath)
        assert.include(error.message, home.credentialsPath)
      }
    }))

  it.scoped("ProfileNotFound says when no profiles exist at all", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const error = getFailure(yield* session(home.env({ AWS_PROFILE: "nope" })))
      assert.strictEqual(error.reason, "ProfileNotFound")
      assert.include(error.message, "no profiles are defined")
      assert.include(error.message, "(missing)")
    }))

  it.scoped("a missing default profile is fine", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials("[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = s\n")
      const service = getSuccess(yield* session(home.env()))
      assert.strictEqual(service.profileName, "default")
      assert.isTrue(service.profile._tag === "None")
      const error = getFailure(yield* resolveWith(defaultChain(home), { env: home.env() }))
      assert.strictEqual(error._tag, "NoCredentialsFound")
    }))

  it.scoped("two sessions with different profiles live side by side in one program", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      writeProfiles(home)
      const chainFor = (profile: string) =>
        Layer.provideMerge(defaultChain(home), AwsSession.layer({ profile })).pipe(Layer.provide(platformLayer))
      const program = Effect.flatMap(AwsCredentials, (service) => service.get)
      const [dev, ci] = yield* Effect.all([
        Effect.provide(program, chainFor("dev")),
        Effect.provide(program, chainFor("ci"))
      ], { concurrency: "unbounded" }).pipe(withEnv(home.env()))
      assert.strictEqual(dev.accessKeyId, "AKIADEV")
      assert.strictEqual(ci.accessKeyId, "AKIACI")
    }))

  it.scoped("merges a profile from both files ([profile x] in config, [x] in credentials)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig("[profile dev]\nregion = eu-west-1\n")
      home.writeCredentials("[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = s\n")
      const service = getSuccess(yield* session(home.env({ AWS_PROFILE: "dev" })))
      assert.deepStrictEqual(AwsSession.profileNames(service), ["dev"])
      assert.isTrue(service.profile._tag === "Some")
      if (service.profile._tag !== "Some") return
      assert.strictEqual(service.profile.value.properties.get("region")?.value, "eu-west-1")
      assert.strictEqual(service.profile.value.properties.get("aws_access_key_id")?.value, "AKIADEV")
    }))
})

describe("AwsSession: files", () => {
  it.scoped("reads ~/.aws/config and ~/.aws/credentials under HOME", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig("[default]\nregion = us-west-2\n")
      const service = getSuccess(yield* session(home.env()))
      assert.deepStrictEqual(service.configFile, { path: home.configPath, exists: true })
      assert.deepStrictEqual(service.credentialsFile, { path: home.credentialsPath, exists: false })
    }))

  it.scoped("AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE move the files, with ~ expanded", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      writeProfiles(home)
      const config = home.write("elsewhere/cfg", "[profile dev]\nregion = ap-south-1\n")
      const credentials = home.write(
        "elsewhere/creds",
        "[dev]\naws_access_key_id = AKIAELSEWHERE\naws_secret_access_key = s\n"
      )
      const env = home.env({
        AWS_CONFIG_FILE: "~/elsewhere/cfg",
        AWS_SHARED_CREDENTIALS_FILE: "~/elsewhere/creds",
        AWS_PROFILE: "dev"
      })
      const service = getSuccess(yield* session(env))
      assert.deepStrictEqual(service.configFile, { path: config, exists: true })
      assert.deepStrictEqual(service.credentialsFile, { path: credentials, exists: true })
      const resolved = getSuccess(yield* resolveWith(defaultChain(home), { env }))
      assert.strictEqual(resolved.credentials.accessKeyId, "AKIAELSEWHERE")
      assert.include(resolved.credentials.provenance, credentials)
    }))

  it.scoped("the configFile and credentialsFile options override the variables", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const credentials = home.write(
        "opt/creds",
        "[default]\naws_access_key_id = AKIAOPTION\naws_secret_access_key = s\n"
      )
      home.write("env/creds", "[default]\naws_access_key_id = AKIAVARIABLE\naws_secret_access_key = s\n")
      const env = home.env({ AWS_SHARED_CREDENTIALS_FILE: path.join(home.dir, "env/creds") })
      const resolved = getSuccess(
        yield* resolveWith(defaultChain(home), { env, session: { credentialsFile: credentials } })
      )
      assert.strictEqual(resolved.credentials.accessKeyId, "AKIAOPTION")
    }))

  it.scoped("missing and empty files hold no profiles", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const missing = getSuccess(yield* session(home.env()))
      assert.isFalse(missing.configFile.exists)
      assert.deepStrictEqual(AwsSession.profileNames(missing), [])
      home.writeConfig("")
      home.writeCredentials("\n\n# nothing\n")
      const empty = getSuccess(yield* session(home.env()))
      assert.isTrue(empty.configFile.exists)
      assert.isTrue(empty.credentialsFile.exists)
      assert.deepStrictEqual(AwsSession.profileNames(empty), [])
    }))

  it.scoped("a directory where a file should be is FileUnreadable naming the path", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const dir = path.join(home.dir, "a-directory")
      fs.mkdirSync(dir)
      const error = getFailure(yield* session(home.env({ AWS_CONFIG_FILE: dir })))
      assert.strictEqual(error.reason, "FileUnreadable")
      assert.strictEqual(error.path, dir)
      assert.include(error.message, dir)
    }))

  it.scoped("a malformed file is MalformedFile with path and line, before any link runs", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig("[default]\r\nregion = us-east-1\r\n\r\n[profile broken\r\n")
      const exit = yield* resolveWith(defaultChain(home), {
        env: home.env({ AWS_ACCESS_KEY_ID: "AKIAENV", AWS_SECRET_ACCESS_KEY: "s" })
      })
      assert.isTrue(Exit.isFailure(exit))
      const error = getFailure(exit)
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag !== "CredentialsError") return
      assert.strictEqual(error.reason, "MalformedFile")
      assert.strictEqual(error.path, home.configPath)
      assert.strictEqual(error.line, 4)
    }))
})
