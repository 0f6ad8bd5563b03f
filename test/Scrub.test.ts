/**
 * The scrubber every outside text passes through (issue 10, defects 1, 4 and 6): what it
 * removes, what it keeps readable, and that errors apply it when they are made.
 */
import { assert, describe, it } from "@effect/vitest"
import { CredentialsError, CredentialsUnavailable } from "../src/CredentialsError.js"
import { displayUrl, remember, scrub, scrubMessage } from "../src/internal/scrub.js"

const secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
const sessionToken = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexample"
const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlLWJ5dGVz"

describe("scrub (text from outside)", () => {
  it("removes the values of secret fields in JSON, keeping the rest", () => {
    const text = JSON.stringify({ Version: 1, AccessKeyId: "AKIAEXAMPLE", SecretAccessKey: secretKey, SessionToken: "x\"y\\z" })
    const out = scrub(text)
    assert.notInclude(out, secretKey)
    assert.notInclude(out, "x\\\"y")
    assert.include(out, "AKIAEXAMPLE")
    assert.include(out, "\"SecretAccessKey\":\"<redacted>\"")
  })

  it("removes key=value and header forms, and every field name of the caches", () => {
    for (
      const name of [
        "aws_secret_access_key",
        "aws_session_token",
        "SessionToken",
        "Token",
        "AccessToken",
        "refreshToken",
        "clientSecret",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "x-aws-ec2-metadata-token",
        "password"
      ]
    ) {
      for (const separator of ["=", " = ", ": ", ":"]) {
        const out = scrub(`before ${name}${separator}s3cr3tV4lue-that-is-long after`)
        assert.notInclude(out, "s3cr3tV4lue", `${name}${separator}`)
        assert.include(out, "before")
        assert.include(out, "after")
      }
    }
    assert.strictEqual(scrub(`Authorization: Bearer ${jwt}`), "Authorization: Bearer <redacted>")
  })

  it("removes secret-shaped runs: AWS secret keys, session tokens, JWTs, long hex", () => {
    for (const shape of [secretKey, sessionToken, jwt, "0123456789abcdef0123456789abcdef0123"]) {
      assert.notInclude(scrub(`the helper said ${shape} and stopped`), shape)
    }
  })

  it("keeps what a user needs: messages, paths, ARNs, reasons", () => {
    for (
      const text of [
        "MFA device not found; run aws sso login --profile dev",
        "open /home/user/.aws/config: permission denied",
        "arn:aws:iam::123456789012:role/deploy",
        "ExpiredTokenException: The security token included in the request is expired",
        "web_identity_token_file = /var/run/secrets/eks.amazonaws.com/serviceaccount/token"
      ]
    ) {
      assert.strictEqual(scrub(text), text)
    }
  })

  it("escapes terminal control sequences and bidirectional overrides", () => {
    const out = scrub("\u001b[2J\u001b]0;owned\u0007red\u202eevil\r\nnext")
    assert.notMatch(out, /[\u0000-\u001f\u007f\u202e]/)
    assert.include(out, "\\e[2J")
    assert.include(out, "\\u202e")
  })

  it("bounds the text and says how much was left out", () => {
    const out = scrub("x".repeat(10_000), { max: 100 })
    assert.isAtMost(out.length, 140)
    assert.include(out, "9900 more characters")
  })

  it("removes the secrets it is told about, whatever their shape", () => {
    assert.strictEqual(scrub("code 1: plain words here", { known: ["plain words"] }), "code 1: <redacted> here")
  })
})

describe("scrub: the forms a hostile probe found (issue 10 audit)", () => {
  const value = "hunter2hunter2pass"
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["YAML", `SecretAccessKey: ${value}`],
    ["Python repr", `{'AccessKeyId': 'AKIAX', 'SecretAccessKey': '${value}', 'SessionToken': '${value}'}`],
    ["JSON name, single-quoted value", `"SecretAccessKey": '${value}'`],
    ["TOML", `secret_access_key = "${value}"`],
    ["words", `secret access key: ${value}`],
    ["arrow", `SecretAccessKey => ${value}`],
    ["XML", `<SecretAccessKey>${value}</SecretAccessKey><SessionToken>${value}</SessionToken>`],
    ["command line flag", `--secret-access-key ${value}`],
    ["prose", `password is ${value}`],
    ["escaped quote in the value", `SecretAccessKey="ab\\"c${value}"`],
    ["quote inside an unquoted value", `token=ab"${value}`],
    ["a long name", `{"${"x".repeat(101)}SecretAccessKey":"${value}"}`],
    ["userinfo with an @ in the password", `see https://user:p@ss${value}@host/x`],
    ["a fragment", `https://host/x#access_token=${value}`],
    ["JSON inside a JSON string", `{"level":"error","msg":"{\\"SecretAccessKey\\":\\"${value}\\"}"}`],
    ["aws configure set", `aws configure set aws_secret_access_key ${value}`],
    ["a tab", `SecretAccessKey\t${value}`],
    ["the console's CSV", `Access key ID,Secret access key\nAKIAX,${value}`],
    ["path parameters", `STS in us-east-1 (http://127.0.0.1:1/p;x=${value}?q=abc, AWS_ENDPOINT_URL_STS)`]
  ]
  for (const [name, text] of cases) {
    it(name, () => assert.notInclude(scrub(text), value, scrub(text)))
  }

  it("a known secret URL-encoded, split across lines, or only its first characters", () => {
    for (
      const text of [
        `POST body: key ${encodeURIComponent(secretKey)} failed`,
        `${secretKey.slice(0, 20)}\n${secretKey.slice(20)}\n`,
        `{"Message":"token ${secretKey.slice(0, 16)}... rejected"}`
      ]
    ) {
      const out = scrub(text, { known: [secretKey] })
      assert.notInclude(out, secretKey.slice(0, 12), out)
      assert.notInclude(out, secretKey.slice(-12), out)
    }
  })

  it("keeps prose about secrets readable", () => {
    for (const text of ["the token is expired; run aws sso login --profile dev", "your password is wrong."]) {
      assert.strictEqual(scrub(text), text)
    }
  })

  it("a URL's query ends where prose goes on: the comma and what follows stay", () => {
    assert.strictEqual(
      scrubMessage("STS in us-east-1 (http://127.0.0.1:1/p;x=abc?q=1, AWS_ENDPOINT_URL_STS)"),
      "STS in us-east-1 (http://127.0.0.1:1/p?<query removed>, AWS_ENDPOINT_URL_STS)"
    )
    assert.strictEqual(
      scrubMessage("start URL https://h/start;jsid=J5?q=z; run `aws sso login`"),
      "start URL https://h/start?<query removed>; run `aws sso login`"
    )
  })

  it("stays linear on text built to make patterns backtrack", () => {
    // Measured, not timed: the work is bounded because the scrubber reads at most a few KiB.
    // `x://` repeated made the URL pattern quadratic; a secret word inside a long word made the
    // camel-case shape exponential (0.2 s for 35 characters).
    for (const text of ["x://".repeat(250_000), "r".repeat(1_000_000)]) {
      assert.isBelow(scrub(text).length, 700)
      assert.include(scrubMessage(text), "more characters)")
    }
    const words = "xsecretabcdefghijklmnopqrstuvwxyz7 ".repeat(14)
    assert.strictEqual(scrubMessage(scrub(words, { max: 1000 })), scrub(words, { max: 1000 }))
  })

  it("scrubbing twice changes nothing more", () => {
    for (const text of ["see https://host/x?X-Amz-Signature=abc&a=1, AWS_ENDPOINT_URL_STS", "a https://u:p w@h:1/ b"]) {
      assert.strictEqual(scrubMessage(scrubMessage(text)), scrubMessage(text))
    }
  })
})

describe("displayUrl", () => {
  it("drops userinfo, query and fragment, also from what is not a valid URL", () => {
    assert.strictEqual(displayUrl("https://user:hunter2@example.com:8443/path?token=abc#x"), "https://example.com:8443/path")
    for (const raw of ["http://user:hunter2@bad host/creds", "http://user:hunter2@[::1/creds?x=hunter2"]) {
      const out = displayUrl(raw)
      assert.notInclude(out, "hunter2", raw)
      assert.notInclude(out, "user", raw)
    }
  })
})

describe("errors scrub what they are given", () => {
  it("a CredentialsError's detail and a CredentialsUnavailable's reason", () => {
    remember("RememberedSecretValue0001")
    const error = new CredentialsError({
      source: "custom-process",
      reason: "ProcessFailed",
      detail: "echoed RememberedSecretValue0001, {\"SecretAccessKey\": \"abc\"} and http://u:p4ssw0rd@host/x\u001b[0m"
    })
    for (const text of [error.message, error.detail, JSON.stringify(error)]) {
      assert.notInclude(text, "RememberedSecretValue0001")
      assert.notInclude(text, "p4ssw0rd")
      assert.notInclude(text, "\u001b")
    }
    const unavailable = new CredentialsUnavailable({ source: "env", reason: "NotConfigured", detail: "saw RememberedSecretValue0001" })
    assert.strictEqual(unavailable.detail, "saw <redacted>")
  })

  it("a message of megabytes is bounded", () => {
    const error = new CredentialsError({ reason: "InvalidConfiguration", detail: `region ${"x".repeat(20_000_000)}` })
    assert.isBelow(error.message.length, 5000)
  })

  it("scrubMessage leaves ordinary messages alone", () => {
    const text = "profile dev: source_profile cycle dev -> base -> dev (/home/u/.aws/config:3)"
    assert.strictEqual(scrubMessage(text), text)
  })
})
