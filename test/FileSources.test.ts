import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import { AwsCredentials } from "../src/AwsCredentials.js"
import type { AwsSession } from "../src/AwsSession.js"
import type { CredentialsError, CredentialsUnavailable } from "../src/CredentialsError.js"
import * as ConfigFile from "../src/providers/ConfigFile.js"
import * as SharedCredentialsFile from "../src/providers/SharedCredentialsFile.js"
import { getFailure, getSuccess, outcomes, resolveWith, runWith, type TempHome, tempHome } from "./support/fixtures.js"

interface FileSource {
  readonly source: "shared-credentials-file" | "config-file"
  readonly layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession>
  readonly header: (profile: string) => string
  readonly write: (home: TempHome, text: string) => string
  readonly other: (home: TempHome, text: string) => string
  readonly otherHeader: (profile: string) => string
}

const sharedCredentials: FileSource = {
  source: "shared-credentials-file",
  layer: SharedCredentialsFile.layer,
  header: (profile) => `[${profile}]`,
  write: (home, text) => home.writeCredentials(text),
  other: (home, text) => home.writeConfig(text),
  otherHeader: (profile) => profile === "default" ? "[default]" : `[profile ${profile}]`
}

const configFile: FileSource = {
  source: "config-file",
  layer: ConfigFile.layer,
  header: (profile) => profile === "default" ? "[default]" : `[profile ${profile}]`,
  write: (home, text) => home.writeConfig(text),
  other: (home, text) => home.writeCredentials(text),
  otherHeader: (profile) => `[${profile}]`
}

describe.each([sharedCredentials, configFile])("$source", (file) => {
  it.scoped("reads the default profile's keys, session token and account id", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const path = file.write(
        home,
        [
          "# keys",
          file.header("default"),
          "aws_access_key_id = AKIAFILEEXAMPLE",
          "aws_secret_access_key = file-secret",
          "aws_session_token = file-token",
          "aws_account_id = 123456789012"
        ].join("\n")
      )
      const { attempts, credentials } = getSuccess(yield* resolveWith(file.layer, { env: home.env() }))
      assert.strictEqual(credentials.source, file.source)
      assert.strictEqual(credentials.accessKeyId, "AKIAFILEEXAMPLE")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "file-secret")
      assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some("file-token"))
      assert.deepStrictEqual(credentials.accountId, Option.some("123456789012"))
      assert.isTrue(Option.isNone(credentials.expiration))
      assert.strictEqual(credentials.provenance, `profile default in ${path}:3`)
      assert.deepStrictEqual(outcomes(attempts), [[file.source, "resolved"]])
    }))

  it.scoped("reads the legacy aws_security_token", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      file.write(
        home,
        [
          file.header("default"),
          "aws_access_key_id = AKIAFILEEXAMPLE",
          "aws_secret_access_key = s",
          "aws_security_token = legacy"
        ].join("\n")
      )
      const { credentials } = getSuccess(yield* resolveWith(file.layer, { env: home.env() }))
      assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some("legacy"))
    }))

  it.scoped("reads the profile AWS_PROFILE names", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      file.write(
        home,
        [
          file.header("default"),
          "aws_access_key_id = AKIADEFAULT",
          "aws_secret_access_key = s1",
          file.header("dev"),
          "aws_access_key_id = AKIADEV",
          "aws_secret_access_key = s2"
        ].join("\n")
      )
      const { credentials } = getSuccess(yield* resolveWith(file.layer, { env: home.env({ AWS_PROFILE: "dev" }) }))
      assert.strictEqual(credentials.accessKeyId, "AKIADEV")
      assert.include(credentials.provenance, "profile dev")
    }))

  it.scoped("is unavailable without the file, naming where it looked", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const error = getFailure(yield* resolveWith(file.layer, { env: home.env() }))
      assert.strictEqual(error._tag, "CredentialsUnavailable")
      assert.strictEqual(error.source, file.source)
      assert.include(error.message, home.dir)
    }))

  it.scoped("is unavailable when the file is empty or does not define the profile", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      for (const text of ["", `${file.header("other")}\naws_access_key_id = AKIAOTHER\naws_secret_access_key = s`]) {
        file.write(home, text)
        const error = getFailure(yield* resolveWith(file.layer, { env: home.env() }))
        assert.strictEqual(error._tag, "CredentialsUnavailable")
        assert.include(error.message, "profile default is not defined")
      }
    }))

  it.scoped("is unavailable when the profile has no keys", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      file.write(home, `${file.header("default")}\nregion = eu-west-1`)
      const error = getFailure(yield* resolveWith(file.layer, { env: home.env() }))
      assert.strictEqual(error._tag, "CredentialsUnavailable")
      assert.include(error.message, "no aws_access_key_id")
    }))

  it.scoped("skips a secret without an access key (unavailable)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      file.write(home, `${file.header("default")}\naws_secret_access_key = lonely`)
      const error = getFailure(yield* resolveWith(file.layer, { env: home.env() }))
      assert.strictEqual(error._tag, "CredentialsUnavailable")
      assert.include(error.message, "skipped")
    }))

  it.scoped("an access key without its secret is PartialCredentials naming file, profile and line", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      for (const secretLine of [[], ["aws_secret_access_key ="]]) {
        const path = file.write(
          home,
          [file.header("dev"), "region = us-east-1", "aws_access_key_id = AKIAPARTIAL", ...secretLine].join("\n")
        )
        const error = getFailure(yield* resolveWith(file.layer, { env: home.env({ AWS_PROFILE: "dev" }) }))
        assert.strictEqual(error._tag, "CredentialsError")
        if (error._tag !== "CredentialsError") return
        assert.strictEqual(error.reason, "PartialCredentials")
        assert.strictEqual(error.source, file.source)
        assert.strictEqual(error.profile, "dev")
        assert.strictEqual(error.path, path)
        assert.strictEqual(error.line, 3)
        assert.include(error.message, `profile dev, ${path}:3`)
        assert.include(error.message, "aws_secret_access_key")
      }
    }))

  it.scoped("only counts keys written in its own file", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      file.write(home, `${file.header("default")}\naws_access_key_id = AKIAHERE`)
      file.other(home, `${file.otherHeader("default")}\naws_secret_access_key = elsewhere`)
      const error = getFailure(yield* resolveWith(file.layer, { env: home.env() }))
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag !== "CredentialsError") return
      assert.strictEqual(error.reason, "PartialCredentials")
    }))

  it.scoped("reads its own file's values even where the other file overrides the same keys", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const path = file.write(
        home,
        [
          file.header("default"),
          "aws_access_key_id = AKIAOWNFILE",
          "aws_secret_access_key = own-secret",
          "aws_session_token = own-token"
        ].join("\n")
      )
      file.other(
        home,
        [
          file.otherHeader("default"),
          "aws_secret_access_key = other-secret",
          "aws_session_token = other-token"
        ].join("\n")
      )
      const { credentials } = getSuccess(yield* resolveWith(file.layer, { env: home.env() }))
      assert.strictEqual(credentials.accessKeyId, "AKIAOWNFILE")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "own-secret")
      assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some("own-token"))
      assert.strictEqual(credentials.provenance, `profile default in ${path}:2`)
    }))

  it.scoped("reads files with CRLF line endings and a UTF-8 BOM", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const text = [
        file.header("default"),
        "aws_access_key_id = AKIACRLF",
        "aws_secret_access_key = crlf-secret",
        "aws_session_token = crlf-token",
        ""
      ].join("\r\n")
      for (const content of [text, `\uFEFF${text}`]) {
        const path = file.write(home, content)
        const { credentials } = getSuccess(yield* resolveWith(file.layer, { env: home.env() }))
        assert.strictEqual(credentials.accessKeyId, "AKIACRLF")
        assert.strictEqual(Redacted.value(credentials.secretAccessKey), "crlf-secret")
        assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some("crlf-token"))
        assert.strictEqual(credentials.provenance, `profile default in ${path}:2`)
      }
    }))
})

describe("profile files edited while the program runs", () => {
  it.scoped("are not polled; invalidate reads them afresh, so rotated keys are picked up", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials("[default]\naws_access_key_id = AKIAOLDKEY\naws_secret_access_key = old-secret\n")
      const exit = yield* runWith(SharedCredentialsFile.layer, { env: home.env() }, Effect.gen(function*() {
        const service = yield* AwsCredentials
        const before = yield* service.get
        home.writeCredentials("[default]\naws_access_key_id = AKIANEWKEY\naws_secret_access_key = new-secret\n")
        const unchanged = yield* service.get
        // Past the invalidation cooldown (a burst of invalidations right after a fetch is one).
        yield* TestClock.adjust("1 minute")
        yield* service.invalidate
        const after = yield* service.get
        return { before, unchanged, after }
      }))
      const { after, before, unchanged } = getSuccess(exit)
      assert.strictEqual(before.accessKeyId, "AKIAOLDKEY")
      assert.strictEqual(unchanged.accessKeyId, "AKIAOLDKEY")
      assert.strictEqual(after.accessKeyId, "AKIANEWKEY")
      assert.strictEqual(Redacted.value(after.secretAccessKey), "new-secret")
    }))
})

describe("the profile files themselves", () => {
  it.scoped("a directory where a file should be is FileUnreadable naming the path", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      for (const path of [home.configPath, home.credentialsPath]) {
        fs.rmSync(path, { recursive: true, force: true })
        fs.mkdirSync(path, { recursive: true })
        const error = getFailure(yield* resolveWith(SharedCredentialsFile.layer, { env: home.env() }))
        assert.strictEqual(error._tag, "CredentialsError")
        if (error._tag !== "CredentialsError") return
        assert.strictEqual(error.reason, "FileUnreadable")
        assert.strictEqual(error.path, path)
        assert.include(error.message, path)
        fs.rmSync(path, { recursive: true, force: true })
      }
    }))

  it.scoped("a malformed file is MalformedFile with path and line", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const cases: ReadonlyArray<readonly [(text: string) => string, string, number]> = [
        [home.writeConfig, "[default]\nregion = us-east-1\nthis line has no equals sign\n", 3],
        [home.writeCredentials, "[default]\r\naws_access_key_id = AKIA\r\n[broken\r\n", 3],
        [home.writeCredentials, "\uFEFFaws_access_key_id = AKIA\n", 1]
      ]
      for (const [write, text, line] of cases) {
        fs.rmSync(`${home.dir}/.aws`, { recursive: true, force: true })
        const path = write(text)
        const error = getFailure(yield* resolveWith(SharedCredentialsFile.layer, { env: home.env() }))
        assert.strictEqual(error._tag, "CredentialsError")
        if (error._tag !== "CredentialsError") return
        assert.strictEqual(error.reason, "MalformedFile")
        assert.strictEqual(error.path, path)
        assert.strictEqual(error.line, line)
        assert.include(error.message, `${path}:${line}`)
      }
    }))
})
