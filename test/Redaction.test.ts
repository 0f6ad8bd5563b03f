/**
 * Secrets never show: for random secret keys and session tokens (quotes, backslashes,
 * newlines, unicode), no way of printing a `Credentials` value, a log line, an error, an
 * `Exit` or a `Cause` from any local source contains the secret, its JSON-escaped form, its
 * `util.inspect`-escaped form, or its distinctive core.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as fc from "effect/FastCheck"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as path from "node:path"
import * as util from "node:util"
import { AwsCredentials } from "../src/AwsCredentials.js"
import * as AwsCredentialsModule from "../src/AwsCredentials.js"
import { AwsSession } from "../src/AwsSession.js"
import * as Credentials from "../src/Credentials.js"
import { CredentialsError, NoCredentialsFound } from "../src/CredentialsError.js"
import { explain, formatHuman } from "../src/internal/explain.js"
import * as Process from "../src/providers/ProcessCredentials.js"
import {
  defaultChain,
  type Env,
  type Platform,
  platformLayer,
  runWith,
  shellQuote,
  type TempHome,
  tempHome,
  withEnv
} from "./support/fixtures.js"

// ---------------------------------------------------------------------------------------------
// Generated secrets
// ---------------------------------------------------------------------------------------------

const alnum = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"]
const specials = [
  "\"",
  "'",
  "\\",
  "\n",
  "\r\n",
  "\t",
  " ",
  "`",
  "$",
  "%s",
  "{",
  "}",
  "<",
  "&",
  "=",
  ":",
  "#",
  ";",
  "[",
  "]",
  ",",
  "/",
  "+",
  "é",
  "ß",
  "漢",
  "🔑",
  "\u2028",
  "\u00a0"
]

const noise = fc.string({
  unit: fc.oneof(
    fc.constantFrom(...specials),
    fc.constantFrom(...alnum),
    fc.string({ unit: "grapheme", maxLength: 1 })
  ),
  maxLength: 12
})

interface Secret {
  /** The whole generated value. */
  readonly value: string
  /** A distinctive run of at least 20 characters inside it. */
  readonly core: string
}

/** `<noise><prefix><18-24 alphanumerics><noise>`: at least 20 characters, easy to spot. */
const secretArbitrary = (prefix: string): fc.Arbitrary<Secret> =>
  fc.tuple(noise, fc.string({ unit: fc.constantFrom(...alnum), minLength: 18, maxLength: 24 }), noise).map((
    [before, core, after]
  ) => ({ value: `${before}${prefix}${core}${after}`, core: `${prefix}${core}` }))

const arbitraries = { secret: secretArbitrary("SK"), token: secretArbitrary("TK") }

/**
 * The same secret as it can be written on one line of an INI-like file: characters that end a
 * line, start a comment, split key and value, or are trimmed are replaced. The core stays.
 */
const onOneLine = (secret: Secret): Secret => ({
  value: secret.value.replace(/[\r\n\u2028\u2029\t =:#;[\]\u00a0]/g, "_"),
  core: secret.core
})

// ---------------------------------------------------------------------------------------------
// Looking for leaks
// ---------------------------------------------------------------------------------------------

/**
 * Every form in which a secret could show up in text: whole, JSON-escaped, `util.inspect`-escaped,
 * and any 14 consecutive characters of its core (a truncated or split copy).
 */
const forms = (secret: Secret): ReadonlyArray<string> => {
  const windows = Array.from({ length: secret.core.length - 13 }, (_, i) => secret.core.slice(i, i + 14))
  const escaped = [JSON.stringify(secret.value).slice(1, -1), util.inspect(secret.value).slice(1, -1)]
  return [...new Set([secret.value, ...escaped, ...windows])]
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? "undefined"
  } catch (error) {
    return `JSON.stringify threw ${String(error)}`
  }
}

/** Every way a user or a library might turn a value into text. */
const renderings = (label: string, value: unknown): ReadonlyArray<readonly [string, string]> => [
  [`${label} util.inspect`, util.inspect(value)],
  [`${label} util.inspect(showHidden, depth: Infinity)`, util.inspect(value, { showHidden: true, depth: Infinity })],
  [
    `${label} util.inspect(customInspect: false)`,
    util.inspect(value, { showHidden: true, depth: Infinity, customInspect: false })
  ],
  [`${label} util.format`, util.format("%s %o %O %j %d", value, value, value, value, value)],
  [`${label} JSON.stringify`, safeJson(value)],
  [`${label} String`, String(value)],
  [`${label} Inspectable.format`, Inspectable.format(value)],
  [`${label} Inspectable.toJSON`, safeJson(Inspectable.toJSON(value))],
  [`${label} Inspectable.toStringUnknown`, Inspectable.toStringUnknown(value)]
]

/** Every text produced by a failed or successful run. */
const exitRenderings = (exit: Exit.Exit<unknown, unknown>): ReadonlyArray<readonly [string, string]> => {
  if (Exit.isSuccess(exit)) {
    const value = exit.value
    const texts = [...renderings("exit", exit), ...renderings("value", value)]
    if (Credentials.isCredentials(value)) {
      texts.push(
        ...renderings("credentials", value),
        ...renderings("secretAccessKey", value.secretAccessKey),
        ...renderings("sessionToken", value.sessionToken),
        ...renderings("toJSON", value.toJSON())
      )
    }
    return texts
  }
  const texts: Array<readonly [string, string]> = [
    ["Cause.pretty", Cause.pretty(exit.cause)],
    ["Cause.pretty(renderErrorCause)", Cause.pretty(exit.cause, { renderErrorCause: true })],
    ...renderings("exit", exit),
    ...renderings("cause", exit.cause)
  ]
  for (const error of Cause.failures(exit.cause)) {
    texts.push(...renderings("error", error), ["Cause.pretty(Cause.fail(error))", Cause.pretty(Cause.fail(error))])
    if (error instanceof Error) texts.push(["error.message", error.message], ["error.stack", error.stack ?? ""])
    if (error instanceof CredentialsError || error instanceof NoCredentialsFound) {
      for (const attempt of error.attempts ?? []) texts.push(["attempt", safeJson(attempt)])
    }
  }
  return texts
}

const leaksIn = (texts: ReadonlyArray<readonly [string, string]>, secrets: ReadonlyArray<Secret>): Array<string> => {
  const leaks: Array<string> = []
  for (const secret of secrets) {
    const patterns = forms(secret)
    for (const [label, text] of texts) {
      for (const pattern of patterns) {
        if (text.includes(pattern)) leaks.push(`${label} shows ${JSON.stringify(pattern)}:\n${text}`)
      }
    }
  }
  return leaks
}

const assertNoLeak = (texts: ReadonlyArray<readonly [string, string]>, secrets: ReadonlyArray<Secret>): void => {
  const leaks = leaksIn(texts, secrets)
  // The first leak in full (fast-check's report shows the message, not the values compared).
  if (leaks.length > 0) assert.fail(`${leaks.length} leaks; the first: ${leaks[0]!.slice(0, 3000)}`)
}

/** Runs `self` with every log line captured and rendered by the usual loggers. */
const capturingLogs = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const lines: Array<readonly [string, string]> = []
    const logger = Logger.make((options) => {
      lines.push(
        ["log (logfmt)", Logger.logfmtLogger.log(options)],
        ["log (string)", Logger.stringLogger.log(options)],
        ["log (json)", Logger.jsonLogger.log(options)],
        ["log (structured)", safeJson(Logger.structuredLogger.log(options))],
        ["log annotations", safeJson(Object.fromEntries(HashMap.toEntries(options.annotations)))]
      )
    })
    return self.pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Logger.withMinimumLogLevel(LogLevel.Debug),
      Effect.map((a) => [a, lines] as const)
    )
  })

/** Credentials layers as the tests build them (see `runWith`). */
type TestLayer = Layer.Layer<AwsCredentials, unknown, AwsSession | Platform>

/**
 * Builds `layer` under `env`, gets credentials, logs what it got (or the failure, as a program
 * would), and checks every text for the secrets.
 */
const check = (layer: TestLayer, env: Env, secrets: ReadonlyArray<Secret>) =>
  Effect.gen(function*() {
    // The session (the parsed profile files, secrets included) printed as a program might.
    const sessionShown: Array<readonly [string, string]> = []
    const use = Effect.gen(function*() {
      const session = yield* AwsSession
      sessionShown.push(...renderings("session", session))
      yield* Effect.logDebug("session", session)
      const service = yield* AwsCredentials
      const credentials = yield* service.get
      yield* Effect.logInfo("credentials", credentials)
      yield* Effect.logDebug(service)
      return credentials
    })
    const [exit, logs] = yield* capturingLogs(
      Effect.tap(runWith(layer, { env }, use), (exit) =>
        Exit.isFailure(exit) ? Effect.logError("could not get credentials", exit.cause) : Effect.void)
    )
    assertNoLeak([...exitRenderings(exit), ...logs, ...sessionShown], secrets)
    return exit
  })

/** What `explain` reports (its JSON and its table) for the same setup. */
const checkExplain = (home: TempHome, env: Env, secrets: ReadonlyArray<Secret>) =>
  Effect.gen(function*() {
    const [explanation, logs] = yield* capturingLogs(
      explain({
        chain: {
          process: { timeout: "5 seconds" },
          botoConfig: { defaultPaths: [path.join(home.dir, "etc", "boto.cfg"), "~/.boto"] }
        }
      }).pipe(Effect.provide(platformLayer), withEnv(env))
    )
    const now = yield* DateTime.now
    assertNoLeak([
      ["explain --json", JSON.stringify(explanation.report, null, 2)],
      ["explain (table)", formatHuman(explanation, now)],
      ...logs
    ], secrets)
  })

/** Checks the default chain (whose errors carry the attempts) and `explain` on it. */
const checkChain = (home: TempHome, env: Env, secrets: ReadonlyArray<Secret>) =>
  Effect.zipLeft(check(defaultChain(home), env, secrets), checkExplain(home, env, secrets))

const expectSecret = (exit: Exit.Exit<Credentials.Credentials, unknown>, secret: Secret): void => {
  if (Exit.isFailure(exit)) assert.fail(`expected credentials, got:\n${Cause.pretty(exit.cause)}`)
  assert.strictEqual(Redacted.value(exit.value.secretAccessKey), secret.value)
}

const expectError = (exit: Exit.Exit<unknown, unknown>, tag: string, reason?: string): void => {
  const error = Exit.isFailure(exit) ? [...Cause.failures(exit.cause)][0] : undefined
  assert.strictEqual((error as { readonly _tag?: string } | undefined)?._tag, tag)
  if (reason !== undefined) assert.strictEqual((error as CredentialsError).reason, reason)
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe("Redaction", () => {
  it("the leak check finds a secret however an error would carry it", () => {
    const secret: Secret = { value: "a\"b\\c\nSKabcdefghijklmnopqr\u2028é", core: "SKabcdefghijklmnopqr" }
    const carriers: ReadonlyArray<CredentialsError> = [
      new CredentialsError({ reason: "ProcessFailed", detail: `output was ${secret.value}` }),
      new CredentialsError({ reason: "ProcessFailed", detail: "x", cause: new Error(secret.value) }),
      new CredentialsError({ reason: "ProcessFailed", detail: `truncated ${secret.value.slice(3, 24)}` })
    ]
    for (const error of carriers) {
      assert.isNotEmpty(leaksIn(exitRenderings(Exit.fail(error)), [secret]))
    }
  })

  it.effect.prop(
    "Credentials values and layerStatic never show the secret or the token",
    arbitraries,
    ({ secret, token }) =>
      Effect.gen(function*() {
        const made = Credentials.make({
          accessKeyId: "AKIAREDACTIONTEST",
          secretAccessKey: secret.value,
          sessionToken: token.value,
          expiration: new Date("2030-01-01T00:00:00Z"),
          accountId: "123456789012",
          source: "env"
        })
        assert.strictEqual(Redacted.value(made.secretAccessKey), secret.value)
        const fromLayer = yield* Effect.provide(
          Effect.flatMap(AwsCredentials, (service) => service.get),
          AwsCredentialsModule.layerStatic({
            accessKeyId: "AKIAREDACTIONTEST",
            secretAccessKey: secret.value,
            sessionToken: Redacted.make(token.value)
          })
        )
        const [, logs] = yield* capturingLogs(
          Effect.all([Effect.logInfo(made), Effect.logWarning("got", fromLayer), Effect.logDebug({ nested: { made } })])
        )
        assertNoLeak([
          ...exitRenderings(Exit.succeed(made)),
          ...exitRenderings(Exit.succeed(fromLayer)),
          ...exitRenderings(Exit.succeed(Credentials.withProvenance(made, "elsewhere"))),
          ...renderings("array", [made, fromLayer]),
          ...renderings("object", { credentials: made }),
          ...logs
        ], [secret, token])
      }),
    { fastCheck: { numRuns: 50 } }
  )

  it.scoped.prop("the env source, on every path", arbitraries, ({ secret, token }) =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2030-01-01T00:00:00Z"))
      const home = yield* tempHome
      const secrets = [secret, token]
      const keys = { AWS_ACCESS_KEY_ID: "AKIAREDACTIONTEST", AWS_SECRET_ACCESS_KEY: secret.value }

      expectSecret(yield* checkChain(home, home.env({ ...keys, AWS_SESSION_TOKEN: token.value }), secrets), secret)
      expectSecret(yield* checkChain(home, home.env({ ...keys, AWS_SECURITY_TOKEN: token.value }), secrets), secret)

      // An access key without its secret, next to a token.
      const partial = home.env({ AWS_ACCESS_KEY_ID: "AKIAREDACTIONTEST", AWS_SESSION_TOKEN: token.value })
      expectError(yield* checkChain(home, partial, secrets), "CredentialsError", "PartialCredentials")

      // Expired credentials.
      const expired = home.env({
        ...keys,
        AWS_SESSION_TOKEN: token.value,
        AWS_CREDENTIAL_EXPIRATION: "2029-01-01T00:00:00Z"
      })
      expectError(yield* checkChain(home, expired, secrets), "CredentialsError", "Expired")

      // A secret without an access key: skipped, so nothing is found.
      const secretOnly = home.env({ AWS_SECRET_ACCESS_KEY: secret.value, AWS_SESSION_TOKEN: token.value })
      expectError(yield* checkChain(home, secretOnly, secrets), "NoCredentialsFound")
    }), { fastCheck: { numRuns: 15 } })

  it.scoped.prop("the file sources, on every path", arbitraries, ({ secret: anySecret, token: anyToken }) =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const secret = onOneLine(anySecret)
      const token = onOneLine(anyToken)
      const secrets = [secret, token]
      const ec2File = path.join(home.dir, "ec2.cred")
      const ec2Env = home.env({ AWS_CREDENTIAL_FILE: ec2File })
      const reset = () => {
        for (const file of [home.configPath, home.credentialsPath, path.join(home.dir, ".boto"), ec2File]) {
          home.write(path.relative(home.dir, file), "")
        }
      }
      const access = "aws_access_key_id = AKIAREDACTIONTEST"
      const keyLines = [access, `aws_secret_access_key = ${secret.value}`, `aws_session_token = ${token.value}`]

      // Working keys in each file.
      const legacyToken = ["[profile dev]", ...keyLines.slice(0, 2), `aws_security_token = ${token.value}`]
      const successes: ReadonlyArray<readonly [() => void, Env]> = [
        [() => home.writeCredentials(["[default]", ...keyLines].join("\n")), home.env()],
        [() => home.writeConfig(["[default]", ...keyLines].join("\n")), home.env()],
        [() => home.writeConfig(legacyToken.join("\n")), home.env({ AWS_PROFILE: "dev" })],
        [() => home.write("ec2.cred", `AWSAccessKeyId=AKIAREDACTIONTEST\nAWSSecretKey=${secret.value}\n`), ec2Env],
        [() => home.write(".boto", `[Credentials]\n${access}\naws_secret_access_key = ${secret.value}\n`), home.env()]
      ]
      for (const [write, env] of successes) {
        reset()
        write()
        expectSecret(yield* checkChain(home, env, secrets), secret)
      }

      // Partial keys: an access key and a token, no secret.
      for (const write of [home.writeCredentials, home.writeConfig]) {
        reset()
        write(["[default]", access, `aws_session_token = ${token.value}`].join("\n"))
        expectError(yield* checkChain(home, home.env(), secrets), "CredentialsError", "PartialCredentials")
      }

      // The secret on the line that does not parse.
      for (const write of [home.writeCredentials, home.writeConfig]) {
        reset()
        write(["[default]", access, `aws_secret_access_key ${secret.value}`].join("\n"))
        expectError(yield* checkChain(home, home.env(), secrets), "CredentialsError", "MalformedFile")
      }
      reset()
      home.write(".boto", `[Credentials]\n${access}\naws_secret_access_key ${secret.value}\n`)
      expectError(yield* checkChain(home, home.env(), secrets), "CredentialsError", "MalformedFile")

      // The session fails before any source runs: a profile named but not defined (the error
      // lists the profiles that are), and a directory where the credentials file should be.
      reset()
      home.writeCredentials(["[default]", ...keyLines].join("\n"))
      home.writeConfig(["[profile other]", ...keyLines].join("\n"))
      expectError(yield* checkChain(home, home.env({ AWS_PROFILE: "missing" }), secrets), "CredentialsError", "ProfileNotFound")
      reset()
      home.writeConfig(["[default]", ...keyLines].join("\n"))
      fs.rmSync(home.credentialsPath, { force: true })
      fs.mkdirSync(home.credentialsPath)
      expectError(yield* checkChain(home, home.env(), secrets), "CredentialsError", "FileUnreadable")
      fs.rmSync(home.credentialsPath, { recursive: true, force: true })

      // Secrets without access keys everywhere: nothing found.
      reset()
      home.writeCredentials(`[default]\naws_secret_access_key = ${secret.value}\naws_session_token = ${token.value}\n`)
      home.writeConfig(`[default]\naws_secret_access_key = ${secret.value}\n`)
      home.write("ec2.cred", `AWSSecretKey=${secret.value}\n`)
      home.write(".boto", `[Credentials]\naws_secret_access_key = ${secret.value}\n`)
      expectError(yield* checkChain(home, ec2Env, secrets), "NoCredentialsFound")
    }), { fastCheck: { numRuns: 12 } })

  it.scopedLive.prop("the process source, on every path", arbitraries, ({ secret, token }) =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const secrets = [secret, token]
      const stdoutFile = path.join(home.dir, "stdout")
      const codeFile = path.join(home.dir, "code")
      const stderrFile = path.join(home.dir, "stderr")
      const script = home.script("process.sh", `cat ${stdoutFile}\ncat ${stderrFile} >&2\nexit $(cat ${codeFile})`)
      home.writeConfig(`[default]\ncredential_process = ${script}\n`)
      const respond = (stdout: string, code = 0, stderr = "") => {
        home.write("stdout", stdout)
        home.write("code", String(code))
        home.write("stderr", stderr)
      }
      const json = (fields: Record<string, unknown>) =>
        JSON.stringify({
          Version: 1,
          AccessKeyId: "AKIAREDACTIONTEST",
          SecretAccessKey: secret.value,
          SessionToken: token.value,
          ...fields
        })
      // The source alone keeps the error's cause; the chain adds the attempts.
      const layers: ReadonlyArray<TestLayer> = [defaultChain(home), Process.layerWith({ timeout: "5 seconds" })]

      respond(json({ Expiration: "2999-01-01T00:00:00Z" }))
      for (const layer of layers) expectSecret(yield* check(layer, home.env(), secrets), secret)

      const failures: ReadonlyArray<readonly [string, number, string]> = [
        [`garbage ${secret.value} ${token.value} {`, 0, "InvalidProcessOutput"],
        [json({}), 1, "ProcessFailed"],
        [json({ Version: 2 }), 0, "InvalidProcessOutput"],
        [json({ AccessKeyId: undefined }), 0, "InvalidProcessOutput"],
        [json({ SessionToken: { token: token.value } }), 0, "InvalidProcessOutput"],
        [json({ Expiration: token.value }), 0, "InvalidProcessOutput"],
        [json({ Expiration: "2001-01-01T00:00:00Z" }), 0, "Expired"]
      ]
      // A helper that writes its JSON, or its secrets as key=value, to stderr (stderr is shown,
      // scrubbed: defect 1 of issue 10).
      const keyValues = `aws_secret_access_key=${secret.value}\nSessionToken: ${token.value}\n`
      const stderrFailures: ReadonlyArray<readonly [string, number, string, string]> = [
        ["", 1, "ProcessFailed", json({})],
        ["not json", 0, "InvalidProcessOutput", `run aws sso login\n${json({})}`],
        [json({ Version: 2 }), 0, "InvalidProcessOutput", keyValues],
        [json({}), 3, "ProcessFailed", `${keyValues}${json({})}`]
      ]
      for (const [stdout, code, reason, stderr] of stderrFailures) {
        respond(stdout, code, stderr)
        for (const layer of layers) {
          expectError(yield* check(layer, home.env(), secrets), "CredentialsError", reason)
        }
        yield* checkExplain(home, home.env(), secrets)
      }
      respond("", 0)

      for (const [stdout, code, reason] of failures) {
        respond(stdout, code)
        for (const layer of layers) {
          expectError(yield* check(layer, home.env(), secrets), "CredentialsError", reason)
        }
      }

      // A process that prints its credentials and then hangs past the timeout, and one that
      // prints them over and over past the output limit: killed, stdout never shown.
      const quick: ReadonlyArray<TestLayer> = [
        defaultChain(home, { process: { timeout: "300 millis" } }),
        Process.layerWith({ timeout: "300 millis" })
      ]
      home.write("hang.sh", `#!/bin/sh\ncat ${stdoutFile}\ncat ${stdoutFile} >&2\necho "stuck after ${"printing"}" >&2\nsleep 30\n`)
      fs.chmodSync(path.join(home.dir, "hang.sh"), 0o755)
      home.writeConfig(`[default]\ncredential_process = ${path.join(home.dir, "hang.sh")}\n`)
      respond(json({}))
      for (const layer of quick) {
        expectError(yield* check(layer, home.env(), secrets), "CredentialsError", "ProcessTimeout")
      }
      home.write("flood.sh", `#!/bin/sh\nyes "$(cat ${stdoutFile})"\n`)
      fs.chmodSync(path.join(home.dir, "flood.sh"), 0o755)
      home.writeConfig(`[default]\ncredential_process = ${path.join(home.dir, "flood.sh")}\n`)
      for (const layer of quick) {
        expectError(yield* check(layer, home.env(), secrets), "CredentialsError", "InvalidProcessOutput")
      }
      home.writeConfig(`[default]\ncredential_process = ${script}\n`)

      // Programs that cannot be started, with the secret among their arguments.
      const argument = onOneLine(secret)
      const notExecutable = home.write("not-executable.sh", "#!/bin/sh\n")
      for (const program of [path.join(home.dir, "no-such-program"), notExecutable]) {
        home.writeConfig(`[default]\ncredential_process = ${program} --secret ${shellQuote(argument.value)}\n`)
        for (const layer of layers) {
          expectError(yield* check(layer, home.env(), [argument]), "CredentialsError", "ProcessFailed")
        }
      }
    }), { fastCheck: { numRuns: 6 }, timeout: 180_000 })
})
