import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as path from "node:path"
import * as BotoConfig from "../src/providers/BotoConfig.js"
import { getFailure, getSuccess, outcomes, resolveWith, type TempHome, tempHome } from "./support/fixtures.js"

/** The boto source with its default files inside the temporary home, never `/etc/boto.cfg`. */
const botoLayer = (home: TempHome) =>
  BotoConfig.layerWith({ defaultPaths: [path.join(home.dir, "etc", "boto.cfg"), "~/.boto"] })

const credentialsSection = (key: string, secret: string) =>
  `[Credentials]\naws_access_key_id = ${key}\naws_secret_access_key = ${secret}\n`

describe("BotoConfig", () => {
  it.scoped("reads [Credentials] from ~/.boto", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = home.write(".boto", `[Boto]\ndebug = 0\n\n${credentialsSection("AKIABOTOEXAMPLE", "boto-secret")}`)
      const { attempts, credentials } = getSuccess(yield* resolveWith(botoLayer(home), { env: home.env() }))
      assert.strictEqual(credentials.source, "boto-config")
      assert.strictEqual(credentials.accessKeyId, "AKIABOTOEXAMPLE")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "boto-secret")
      assert.isTrue(Option.isNone(credentials.sessionToken))
      assert.strictEqual(credentials.provenance, `boto config ${file}:5`)
      assert.deepStrictEqual(outcomes(attempts), [["boto-config", "resolved"]])
    }))

  it.scoped("the first default file with an access key wins; files without one are passed over", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.write("etc/boto.cfg", "[Boto]\ndebug = 0\n")
      home.write(".boto", credentialsSection("AKIAHOMEBOTO", "s"))
      const second = getSuccess(yield* resolveWith(botoLayer(home), { env: home.env() }))
      assert.strictEqual(second.credentials.accessKeyId, "AKIAHOMEBOTO")

      home.write("etc/boto.cfg", credentialsSection("AKIAETCBOTO", "s"))
      const first = getSuccess(yield* resolveWith(botoLayer(home), { env: home.env() }))
      assert.strictEqual(first.credentials.accessKeyId, "AKIAETCBOTO")
    }))

  it.scoped("BOTO_CONFIG (with ~ expanded) replaces the default files", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.write(".boto", credentialsSection("AKIAHOMEBOTO", "s"))
      const file = home.write("custom/boto.cfg", credentialsSection("AKIACUSTOM", "s"))
      const { credentials } = getSuccess(
        yield* resolveWith(botoLayer(home), { env: home.env({ BOTO_CONFIG: "~/custom/boto.cfg" }) })
      )
      assert.strictEqual(credentials.accessKeyId, "AKIACUSTOM")
      assert.include(credentials.provenance, file)

      const error = getFailure(
        yield* resolveWith(botoLayer(home), { env: home.env({ BOTO_CONFIG: path.join(home.dir, "nope.cfg") }) })
      )
      assert.strictEqual(error._tag, "CredentialsUnavailable")
      assert.include(error.message, "BOTO_CONFIG")
    }))

  it.scoped("is unavailable without files, listing where it looked", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const error = getFailure(yield* resolveWith(botoLayer(home), { env: home.env() }))
      assert.strictEqual(error._tag, "CredentialsUnavailable")
      assert.strictEqual(error.source, "boto-config")
      assert.include(error.message, path.join(home.dir, "etc", "boto.cfg"))
      assert.include(error.message, path.join(home.dir, ".boto"))
    }))

  it.scoped("a directory where a boto file should be is FileUnreadable (botocore skips it)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      fs.mkdirSync(path.join(home.dir, ".boto"))
      const error = getFailure(yield* resolveWith(botoLayer(home), { env: home.env() }))
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag !== "CredentialsError") return
      assert.strictEqual(error.reason, "FileUnreadable")
      assert.strictEqual(error.path, path.join(home.dir, ".boto"))
      assert.include(error.message, "is a directory, not a regular file")
    }))

  it.scoped("a malformed file is MalformedFile with path and line", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = home.write(".boto", "[Credentials]\naws_access_key_id = AKIA\nnot a property\n")
      const error = getFailure(yield* resolveWith(botoLayer(home), { env: home.env() }))
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag !== "CredentialsError") return
      assert.strictEqual(error.reason, "MalformedFile")
      assert.strictEqual(error.path, file)
      assert.strictEqual(error.line, 3)
      assert.include(error.message, `${file}:3`)
    }))

  it.scoped("an access key without its secret is PartialCredentials with path and line", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = home.write(".boto", "[Credentials]\n\naws_access_key_id = AKIAPARTIAL\n")
      const error = getFailure(yield* resolveWith(botoLayer(home), { env: home.env() }))
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag !== "CredentialsError") return
      assert.strictEqual(error.reason, "PartialCredentials")
      assert.strictEqual(error.path, file)
      assert.strictEqual(error.line, 3)
    }))

  it.scoped("reads CRLF files with a BOM", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.write(
        ".boto",
        "\uFEFF[Credentials]\r\naws_access_key_id = AKIACRLF\r\naws_secret_access_key = crlf-secret\r\n"
      )
      const { credentials } = getSuccess(yield* resolveWith(botoLayer(home), { env: home.env() }))
      assert.strictEqual(credentials.accessKeyId, "AKIACRLF")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "crlf-secret")
    }))
})
