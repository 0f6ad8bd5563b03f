import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Ec2CredentialsFile from "../src/providers/Ec2CredentialsFile.js"
import { getFailure, getSuccess, outcomes, resolveWith, tempHome } from "./support/fixtures.js"

describe("Ec2CredentialsFile", () => {
  it.scoped("reads AWSAccessKeyId and AWSSecretKey from the file AWS_CREDENTIAL_FILE names", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = home.write(
        "ec2/credentials",
        "# EC2 tools\nAWSAccessKeyId=AKIAEC2EXAMPLE\nAWSSecretKey = ec2-secret\n"
      )
      const { attempts, credentials } = getSuccess(
        yield* resolveWith(Ec2CredentialsFile.layer, { env: home.env({ AWS_CREDENTIAL_FILE: file }) })
      )
      assert.strictEqual(credentials.source, "ec2-credentials-file")
      assert.strictEqual(credentials.accessKeyId, "AKIAEC2EXAMPLE")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "ec2-secret")
      assert.isTrue(Option.isNone(credentials.sessionToken))
      assert.isTrue(Option.isNone(credentials.expiration))
      assert.strictEqual(credentials.provenance, `AWS_CREDENTIAL_FILE ${file}:2`)
      assert.deepStrictEqual(outcomes(attempts), [["ec2-credentials-file", "resolved"]])
    }))

  it.scoped("expands ~ and reads CRLF files with a BOM", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = home.write("ec2.cred", "\uFEFFAWSAccessKeyId=AKIACRLF\r\nAWSSecretKey=crlf-secret\r\n")
      const { credentials } = getSuccess(
        yield* resolveWith(Ec2CredentialsFile.layer, { env: home.env({ AWS_CREDENTIAL_FILE: "~/ec2.cred" }) })
      )
      assert.strictEqual(credentials.accessKeyId, "AKIACRLF")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "crlf-secret")
      assert.include(credentials.provenance, file)
    }))

  it.scoped("is unavailable when AWS_CREDENTIAL_FILE is unset or empty", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      for (const env of [{}, { AWS_CREDENTIAL_FILE: "" }]) {
        const error = getFailure(yield* resolveWith(Ec2CredentialsFile.layer, { env: home.env(env) }))
        assert.strictEqual(error._tag, "CredentialsUnavailable")
        assert.include(error.message, "AWS_CREDENTIAL_FILE is not set")
      }
    }))

  it.scoped("is unavailable when the file has no AWSAccessKeyId", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = home.write("ec2.cred", "AWSSecretKey=lonely\n")
      const env = home.env({ AWS_CREDENTIAL_FILE: file })
      const error = getFailure(yield* resolveWith(Ec2CredentialsFile.layer, { env }))
      assert.strictEqual(error._tag, "CredentialsUnavailable")
      assert.include(error.message, "has no AWSAccessKeyId")
    }))

  it.scoped("a missing file or a directory is FileUnreadable naming the path", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const directory = path.join(home.dir, "a-directory")
      fs.mkdirSync(directory)
      for (const file of [path.join(home.dir, "missing.cred"), directory]) {
        const error = getFailure(
          yield* resolveWith(Ec2CredentialsFile.layer, { env: home.env({ AWS_CREDENTIAL_FILE: file }) })
        )
        assert.strictEqual(error._tag, "CredentialsError")
        if (error._tag !== "CredentialsError") return
        assert.strictEqual(error.reason, "FileUnreadable")
        assert.strictEqual(error.source, "ec2-credentials-file")
        assert.strictEqual(error.path, file)
        assert.include(error.message, file)
      }
    }))

  it.scoped("AWSAccessKeyId without AWSSecretKey is PartialCredentials with path and line", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = home.write("ec2.cred", "\n\nAWSAccessKeyId=AKIAPARTIAL\nAWSSecretKey=\n")
      const env = home.env({ AWS_CREDENTIAL_FILE: file })
      const error = getFailure(yield* resolveWith(Ec2CredentialsFile.layer, { env }))
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag !== "CredentialsError") return
      assert.strictEqual(error.reason, "PartialCredentials")
      assert.strictEqual(error.path, file)
      assert.strictEqual(error.line, 3)
      assert.include(error.message, `${file}:3`)
    }))
})
