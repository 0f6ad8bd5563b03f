/**
 * The one table of answers that refuse credentials (S3's and STS's spellings) and the sentence
 * each gets: which key (shortened), from where, and for `AccessDenied` which identity. Nothing
 * secret reaches a sentence, whatever the parts hold.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Credentials from "../src/Credentials.js"
import * as SigningCredentials from "../src/internal/signingCredentials.js"

const signing: SigningCredentials.SigningCredentials = {
  source: "shared-credentials-file",
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  provenance: "profile dev in /home/me/.aws/credentials:3"
}
const from = "access key AKIA...MPLE, from profile dev in /home/me/.aws/credentials:3 (shared-credentials-file)"
const s3Context = { operation: "PutObject", resource: "s3://b/k" }

describe("signingCredentials.rejection", () => {
  const table: ReadonlyArray<readonly [code: string, sentence: string]> = [
    ["InvalidAccessKeyId", `AWS does not know ${from}`],
    ["InvalidClientTokenId", `AWS does not know ${from}`],
    ["SignatureDoesNotMatch", `the secret key does not match ${from}`],
    ["ExpiredToken", `the session token of ${from}, has expired`],
    ["ExpiredTokenException", `the session token of ${from}, has expired`],
    ["TokenRefreshRequired", `the session token of ${from}, has expired`],
    ["InvalidToken", `the session token of ${from}, is not valid`],
    ["AccessDenied", `the identity of ${from}, is not allowed to PutObject on s3://b/k`],
    ["AccessDeniedException", `the identity of ${from}, is not allowed to PutObject on s3://b/k`]
  ]
  for (const [code, sentence] of table) {
    it(`${code}: one sentence`, () => {
      assert.deepStrictEqual(SigningCredentials.rejection(code, signing, s3Context), Option.some(sentence))
      assert.isTrue(SigningCredentials.isRejection(code))
    })
  }

  it("codes that are not about the credentials have no sentence", () => {
    for (const code of ["NoSuchKey", "SlowDown", "InternalError", "ServiceError", "toString", "__proto__"]) {
      assert.isTrue(Option.isNone(SigningCredentials.rejection(code, signing, s3Context)), code)
    }
  })

  it("AccessDenied names the ARN when known, else the account, else the key's identity; STS has no resource", () => {
    const denied = (extra: Partial<SigningCredentials.SigningCredentials>, context = s3Context) =>
      Option.getOrThrow(SigningCredentials.rejection("AccessDenied", { ...signing, ...extra }, context))
    assert.strictEqual(
      denied({ accountId: "123456789012", arn: "arn:aws:sts::123456789012:assumed-role/dev/me" }),
      `identity arn:aws:sts::123456789012:assumed-role/dev/me (${from}) is not allowed to PutObject on s3://b/k`
    )
    assert.strictEqual(
      denied({ accountId: "123456789012" }),
      `identity account 123456789012 (${from}) is not allowed to PutObject on s3://b/k`
    )
    assert.strictEqual(
      denied({}, { operation: "sts:AssumeRole" } as typeof s3Context),
      `the identity of ${from}, is not allowed to sts:AssumeRole`
    )
  })

  it("the source is said once when it is the whole trail", () => {
    assert.strictEqual(
      SigningCredentials.describe({ source: "explicit", accessKeyId: "AKIAIOSFODNN7EXAMPLE", provenance: "explicit" }),
      "access key AKIA...MPLE, from explicit"
    )
  })
})

describe("signingCredentials.maskAccessKeyId", () => {
  it("keeps the first and last four characters; a short value shows only its last four", () => {
    assert.strictEqual(SigningCredentials.maskAccessKeyId("ASIAXXXXXXXXXXXXWXYZ"), "ASIA...WXYZ")
    assert.strictEqual(SigningCredentials.maskAccessKeyId("AKIDTEST"), "...TEST")
  })

  it("control characters in a key id are made visible, not sent to the terminal", () => {
    assert.notInclude(SigningCredentials.maskAccessKeyId("AKIA\u001b[2JXXXXXXXXWXYZ"), "\u001b")
  })
})

describe("signingCredentials: nothing secret in a sentence", () => {
  it("a secret the library handled is scrubbed even where a key id or trail carried it", () => {
    const secret = "plantedSecretValue0123456789abcdefGHIJ"
    // Making credentials remembers their secret for the scrubber.
    const credentials = Credentials.make({ accessKeyId: secret, secretAccessKey: secret, source: "env" })
    const described = SigningCredentials.fromCredentials(credentials)
    assert.deepStrictEqual(Object.keys(described).sort(), ["accessKeyId", "provenance", "source"])
    for (const code of ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"]) {
      const sentence = Option.getOrThrow(
        SigningCredentials.rejection(code, { ...described, provenance: `a trail holding ${secret}` }, s3Context)
      )
      assert.notInclude(sentence, secret)
      assert.notInclude(sentence, secret.slice(4, 20))
    }
  })

  it("an identity marked with its credentials leads back to them; an error records who signed", () => {
    const credentials = Credentials.make({
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: "markedSecret0123456789abcdefghijklmnopq",
      source: "env",
      provenance: "environment variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
      accountId: "123456789012"
    })
    const identity = SigningCredentials.markIdentity(Credentials.toAwsIdentity(credentials), credentials)
    assert.strictEqual(SigningCredentials.identityCredentials(identity), credentials)
    // Not enumerable: the identity's JSON is what the SDK expects, nothing more.
    assert.deepStrictEqual(Object.keys(identity).sort(), ["accessKeyId", "accountId", "secretAccessKey"])
    const error = new Error("refused")
    SigningCredentials.markError(error, identity)
    assert.deepStrictEqual(SigningCredentials.ofError(error), {
      source: "env",
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      provenance: "environment variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
      accountId: "123456789012"
    })
    const unmarked = new Error("refused")
    SigningCredentials.markError(unmarked, { accessKeyId: "x" })
    assert.isUndefined(SigningCredentials.ofError(unmarked))
  })
})
