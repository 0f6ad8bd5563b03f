/**
 * Generated input for every decoder of untrusted text (issue 10): the profile parser, the
 * `credential_process` output decoder, the metadata and container credentials decoder, the
 * answers of STS, SSO, SSO-OIDC and sign-in as their SDKs hand them over, the SSO and login token
 * caches, the AWS CLI cache, timestamps and the scrubber. For any input each one
 * returns a value or a typed failure, never throws; and a secret planted in the input never shows
 * in a failure's message. Run with a count of inputs per property: a few thousand in `npm test`,
 * 100,000 in the services tier. fast-check shrinks a failure and prints its seed and path.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as PlatformError from "@effect/platform/Error"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import * as CliCache from "../../src/internal/cliCache.js"
import { decodeTokenOutput } from "../../src/internal/login.js"
import * as MetadataCredentials from "../../src/internal/metadataCredentials.js"
import { ProcessOutput } from "../../src/internal/processRunner.js"
import { scrub, scrubMessage } from "../../src/internal/scrub.js"
import { decodeCreateToken, decodeRoleCredentials } from "../../src/internal/sso.js"
import { decodeAnswer as decodeStsAnswer } from "../../src/internal/sts.js"
import { parseTimestamp } from "../../src/internal/time.js"
import * as TokenCache from "../../src/internal/tokenCache.js"
import { decodeJson } from "../../src/internal/untrusted.js"
import * as ProfileFile from "../../src/ProfileFile.js"

/**
 * A value no decoder has a reason to print: if it shows in a message, something echoed input.
 * Shaped like an AWS secret (letters of both cases and digits, 33 characters).
 */
const planted = fc.stringMatching(/^[A-Za-z0-9]{20}$/).map((core) => `PLANTEDsecret${core}7`)

/** Lines of the shapes the profile files have, and of shapes they must survive. */
const iniLine = fc.oneof(
  fc.constantFrom("[default]", "[profile dev]", "[sso-session s]", "[services x]", "[ profile  a ]", "[", "]", "[[x]]", ""),
  fc.tuple(fc.constantFrom("aws_access_key_id", "region", "s3", "role_arn", "x", ""), fc.constantFrom(" = ", "=", " =", ": ")).map(
    ([key, sep]) => `${key}${sep}`
  ),
  fc.constantFrom("  addressing_style = path", "\tcontinued", "# comment", "; comment", "key = value # note", "=", "== x"),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 })
)

const iniText = fc.tuple(fc.array(iniLine, { maxLength: 30 }), fc.constantFrom("\n", "\r\n", "\r")).map(([lines, eol]) =>
  lines.join(eol)
)

/** A JSON-ish document: valid, mutated, truncated, deep, or garbage. */
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string({ maxLength: 20 }),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom("Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "Code", "Token", "accessToken", "expiresAt", "Credentials"), fc.string({ maxLength: 8 })),
      tie("value"),
      { maxKeys: 6 }
    )
  )
})).value

const deep = fc.tuple(fc.oneof({ arbitrary: fc.integer({ min: 1, max: 200 }), weight: 50 }, { arbitrary: fc.constant(100_000), weight: 1 }), fc.constantFrom("[", "{\"a\":"), fc.boolean()).map(
  ([depth, open, closed]) => open.repeat(depth) + (closed ? (open === "[" ? "]" : "}").repeat(depth) : "")
)

const documentOf = (fields: (secret: string) => Record<string, unknown>) =>
  fc.tuple(planted, jsonValue, fc.integer({ min: 0, max: 3 })).map(([secret, noise, how]) => {
    const doc = { ...fields(secret), noise }
    const text = JSON.stringify(doc)
    switch (how) {
      case 0:
        return { secret, text }
      case 1:
        return { secret, text: text.slice(0, Math.floor(text.length / 2)) }
      case 2:
        return { secret, text: text.replace(/"(Version|Code|Expiration|expiresAt)":[^,}]*/g, "\"$1\":{\"x\":[1,2]}") }
      default:
        return { secret, text: `\uFEFF${text}\u0000` }
    }
  })

const untrustedText = (fields: (secret: string) => Record<string, unknown>) =>
  fc.oneof(
    documentOf(fields),
    fc.tuple(planted, fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: "binary", maxLength: 200 }), jsonValue.map((v) => JSON.stringify(v)), deep))
      .map(([secret, text]) => ({ secret, text }))
  )

const processFields = (secret: string) => ({
  Version: 1,
  AccessKeyId: "AKIAGENERATED",
  SecretAccessKey: secret,
  SessionToken: secret,
  Expiration: "2030-02-30T00:00:00Z"
})
const metadataFields = (secret: string) => ({
  Code: "Success",
  AccessKeyId: "ASIAGENERATED",
  SecretAccessKey: secret,
  Token: secret,
  Expiration: "2030-01-01T00:00:00Z",
  Message: secret
})
const ssoFields = (secret: string) => ({ startUrl: "https://x", region: "us-east-1", accessToken: secret, expiresAt: "2030-01-01T00:00:00Z", refreshToken: secret, clientSecret: secret })
const loginFields = (secret: string) => ({
  accessToken: { accessKeyId: "ASIA", secretAccessKey: secret, sessionToken: secret, accountId: "1", expiresAt: "2030-01-01T00:00:00Z" },
  clientId: "c",
  refreshToken: secret,
  dpopKey: secret
})
const cliFields = (secret: string) => ({
  Credentials: { AccessKeyId: "ASIA", SecretAccessKey: secret, SessionToken: secret, Expiration: "2030-01-01T00:00:00Z" },
  AssumedRoleUser: { Arn: "arn:aws:sts::123456789012:assumed-role/r/s" }
})

/**
 * An answer as an SDK hands it over, already parsed from the wire: the expected fields with a
 * planted secret, each field kept, dropped, or replaced by noise (a string, a number, a date that
 * is valid or not, an object, a deep nest).
 */
const answerOf = (fields: (secret: string) => Record<string, unknown>) => {
  const noise = fc.oneof(
    jsonValue,
    fc.constant(undefined),
    fc.date(),
    fc.constant(new Date(Number.NaN)),
    fc.tuple(fc.integer({ min: 1, max: 200 }), fc.boolean()).map(([depth, arrays]) => {
      let value: unknown = "x"
      for (let i = 0; i < depth; i++) value = arrays ? [value] : { a: value }
      return value
    })
  )
  const mutate = (value: unknown, secret: string): fc.Arbitrary<unknown> =>
    typeof value === "object" && value !== null && !(value instanceof Date)
      ? fc.record(Object.fromEntries(Object.entries(value).map(([key, field]) => [key, mutate(field, secret)])))
      : fc.oneof({ arbitrary: fc.constant(value), weight: 3 }, { arbitrary: noise, weight: 1 })
  return planted.chain((secret) =>
    fc.oneof(
      { arbitrary: mutate(fields(secret), secret), weight: 4 },
      { arbitrary: noise, weight: 1 }
    ).map((value) => ({ secret, value }))
  )
}

const stsFields = (secret: string) => ({
  Credentials: { AccessKeyId: "ASIA", SecretAccessKey: secret, SessionToken: secret, Expiration: new Date("2030-01-01T00:00:00Z") },
  AssumedRoleUser: { Arn: "arn:aws:sts::123456789012:assumed-role/r/s", AssumedRoleId: secret }
})
const roleCredentialsFields = (secret: string) => ({ accessKeyId: "ASIA", secretAccessKey: secret, sessionToken: secret, expiration: 1_900_000_000_000 })
const createTokenFields = (secret: string) => ({ accessToken: secret, expiresIn: 3600, refreshToken: secret, tokenType: "Bearer" })
const loginOutputFields = (secret: string) => ({
  accessToken: { accessKeyId: "ASIA", secretAccessKey: secret, sessionToken: secret },
  refreshToken: secret,
  expiresIn: 900
})

/**
 * Runs `check` on every generated input; a throw is a defect, and fails the property. The runs go
 * in batches (each with its own seed, printed on failure), giving the event loop a turn between
 * them: a worker that blocks for minutes misses the test runner's heartbeat.
 */
const property = <A>(name: string, runs: number, arbitrary: fc.Arbitrary<A>, check: (input: A) => void) =>
  it(`${name}: ${runs} generated inputs, never a defect`, async () => {
    const batch = 2_000
    for (let done = 0; done < runs; done += batch) {
      fc.assert(fc.property(arbitrary, check), { numRuns: Math.min(batch, runs - done) })
      await new Promise((resolve) => setImmediate(resolve))
    }
    console.log(`generated: ${name} ${runs} inputs, 0 defects`)
  }, 600_000)

/** A file system holding one file, for the readers that go through one. */
const oneFile = (bytes: Uint8Array) =>
  FileSystem.layerNoop({
    stat: () =>
      Effect.succeed({
        type: "File",
        size: FileSystem.Size(bytes.length),
        mtime: Option.none(),
        atime: Option.none(),
        birthtime: Option.none(),
        dev: 0,
        ino: Option.none(),
        mode: 0o600,
        nlink: Option.none(),
        uid: Option.none(),
        gid: Option.none(),
        rdev: Option.none(),
        blksize: Option.none(),
        blocks: Option.none()
      }),
    readFile: () => Effect.succeed(bytes),
    readLink: (path) =>
      Effect.fail(new PlatformError.SystemError({ reason: "NotFound", module: "FileSystem", method: "readLink", pathOrDescriptor: path }))
  })

/** Runs an effect that reads one file holding `text`; its outcome, a defect turned into a throw. */
const readThrough = <A, E>(text: string, read: Effect.Effect<A, E, FileSystem.FileSystem>): Either.Either<A, E> =>
  Effect.runSync(Effect.either(read.pipe(Effect.provide(oneFile(Buffer.from(text, "utf8"))))))

const messageOf = (failure: unknown): string =>
  typeof failure === "object" && failure !== null && "message" in failure ? String(failure.message) : JSON.stringify(failure)

export const generatedSuites = (runs: number): void => {
  describe("generated input", () => {
    property("profile parser (both kinds) and merge", runs, fc.tuple(iniText, iniText, planted), ([config, credentials, secret]) => {
      const parsedConfig = ProfileFile.parse(`${config}\naws_secret_access_key = ${secret}`, "config", "/c")
      const parsedCredentials = ProfileFile.parse(credentials, "credentials", "/k")
      for (const parsed of [parsedConfig, parsedCredentials]) {
        if (Either.isLeft(parsed)) {
          assert.strictEqual(parsed.left.reason, "MalformedFile")
          assert.notInclude(parsed.left.message, secret)
        }
      }
      ProfileFile.merge(Either.getOrUndefined(parsedConfig), Either.getOrUndefined(parsedCredentials))
      ProfileFile.subProperties(config)
    })

    property("credential_process output", runs, untrustedText(processFields), ({ secret, text }) => {
      const decoded = decodeJson(ProcessOutput)(text)
      if (Either.isLeft(decoded)) assert.notInclude(JSON.stringify(decoded.left), secret)
    })

    property("metadata and container credentials", runs, untrustedText(metadataFields), ({ secret, text }) => {
      for (const require of [{ code: true, token: true, expiration: true }, { token: false, expiration: false }]) {
        const decoded = MetadataCredentials.decode(text, require as never)
        if (Either.isLeft(decoded)) assert.notInclude(MetadataCredentials.describeProblem("it", decoded.left), secret)
      }
    })

    const context = { source: "sso" as const, profile: "p", what: "token cache file", fix: "aws sso login" }
    property("SSO token cache", runs, untrustedText(ssoFields), ({ secret, text }) => {
      const outcome = readThrough(text, TokenCache.read("/cache.json", TokenCache.SsoToken, context))
      if (Either.isLeft(outcome)) assert.notInclude(messageOf(outcome.left), secret)
    })

    property("login token cache", runs, untrustedText(loginFields), ({ secret, text }) => {
      const outcome = readThrough(text, TokenCache.read("/cache.json", TokenCache.LoginToken, { ...context, source: "login" }))
      if (Either.isLeft(outcome)) assert.notInclude(messageOf(outcome.left), secret)
    })

    // Answers of the SDK calls: STS (AssumeRole, AssumeRoleWithWebIdentity), SSO
    // (GetRoleCredentials), SSO-OIDC (CreateToken), sign-in (CreateOAuth2Token).
    for (
      const [name, fields, decode] of [
        ["STS answers", stsFields, decodeStsAnswer],
        ["SSO role credentials", roleCredentialsFields, decodeRoleCredentials],
        ["SSO-OIDC CreateToken answers", createTokenFields, decodeCreateToken],
        ["sign-in CreateOAuth2Token answers", loginOutputFields, decodeTokenOutput]
      ] as const
    ) {
      property(name, runs, answerOf(fields), ({ secret, value }) => {
        const decoded = (decode as (value: unknown) => Either.Either<unknown, string>)(value)
        if (Either.isLeft(decoded)) assert.notInclude(decoded.left, secret)
      })
    }

    property("AWS CLI cache", runs, untrustedText(cliFields), ({ text }) => {
      // Never an error: anything unusable is a miss.
      const outcome = readThrough(text, CliCache.read("/dir", "key"))
      assert.isTrue(Either.isRight(outcome))
    })

    property(
      "timestamps",
      runs,
      fc.oneof(fc.string({ maxLength: 40 }), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
      (text) => {
        parseTimestamp(text)
        TokenCache.parseCacheTimestamp(text)
      }
    )

    property(
      "the scrubber",
      runs,
      fc.tuple(fc.string({ maxLength: 300 }), planted, fc.constantFrom("SecretAccessKey", "aws_session_token", "Token", "refreshToken", "Authorization")),
      ([noise, secret, field]) => {
        for (const text of [`${noise}${field}=${secret}${noise}`, `${noise}{"${field}": "${secret}"}`, `${noise} ${secret} `]) {
          const out = scrub(text)
          assert.notInclude(out, secret)
          assert.notMatch(out, /[\u0000-\u0008\u000b-\u001f\u007f]/)
          scrubMessage(text)
        }
      }
    )
  })
}
