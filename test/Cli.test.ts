/**
 * The command line as a user runs it (a child process each time): usage errors, help, global
 * options on either side of the command, the human report, the progress line on a terminal,
 * `list-profiles` and `export-credentials`. The report's content is covered in-process by
 * Explain.test.ts; here, what crosses the process boundary.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import * as Args from "../src/internal/cliArgs.js"
import { explain, formatHuman, wrap } from "../src/internal/explain.js"
import * as Credentials from "../src/Credentials.js"
import { pythonIsoformat, render } from "../src/internal/exportCredentials.js"
import { platformLayer, repoRoot, runTsx, type TempHome, tempHome, withEnv } from "./support/fixtures.js"
import * as StsServer from "./support/stsServer.js"
import { runOnTerminal } from "./support/terminal.js"

const secret = "cliSecretThatIsOnlyExported/000000000WXYZ"
const token = "cliSessionTokenOnlyExported0000000000000001"
const otherSecret = "cliBaseSecretForTheProcess/0000000000ABCD"

const cli = (args: ReadonlyArray<string>, env: Record<string, string>) => runTsx("src/bin.ts", args, env)

/** A home with no boto config, so nothing outside the test directory is read. */
const homeEnv = (home: TempHome, vars: Record<string, string> = {}) => ({
  HOME: home.dir,
  BOTO_CONFIG: path.join(home.dir, "no-boto.cfg"),
  ...vars
})

const ansi = /\u001b\[/
const all = <T extends ReadonlyArray<Promise<unknown>>>(promises: readonly [...T]) =>
  Effect.promise(() => Promise.all(promises) as Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }>)

const usageCases = [
  [["--bogus"], "unknown option --bogus"],
  [["explain", "--bogus"], "unknown option --bogus"],
  [["--bogus", "explain"], "unknown option --bogus"],
  [["explain", "--profile"], "option --profile needs a value"],
  [["explain", "--profile", "--json"], "option --profile needs a value"],
  [["--region"], "option --region needs a value"],
  [["explain", "--profile="], "option --profile needs a value"],
  [["nope"], "unknown command 'nope'"],
  [[], "a command is needed"],
  [["explain", "extra"], "unexpected argument 'extra'"],
  [["explain", "--format", "env"], "option --format does not apply to explain"],
  [["list-profiles", "--json"], "option --json does not apply to list-profiles"],
  [["export-credentials", "--format", "yaml"], "option --format must be one of"],
  [["explain", "--json=yes"], "option --json takes no value"]
] as const

describe("usage errors", () => {
  it("every kind: a usage error naming what was wrong and --help", () => {
    for (const [args, expected] of usageCases) {
      const parsed = Args.parse(args)
      assert.strictEqual(parsed._tag, "Usage", args.join(" "))
      if (parsed._tag === "Usage") {
        assert.include(parsed.message, expected)
        assert.match(Args.usageLine(parsed), /^effect-aws-credentials: [^\n]*; see 'effect-aws-credentials[a-z -]* --help' for more$/)
      }
    }
    assert.deepStrictEqual(Args.parse(["--profile", "dev", "explain", "--json"]), Args.parse(["explain", "--json", "--profile", "dev"]))
  })

  // Each run starts tsx (a second or more): the kinds that cross the process boundary differently.
  it.scoped("the bin: one line on stderr, exit 64 (never 1), nothing on stdout", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const cases = [usageCases[2], usageCases[4], usageCases[7], usageCases[8]] as const
      const results = yield* all(cases.map(([args]) => cli(args, homeEnv(home))))
      cases.forEach(([args, expected], i) => {
        const result = results[i]!
        const name = args.join(" ")
        expect(result.status, name).toBe(64)
        expect(result.stdout, name).toBe("")
        const lines = result.stderr.split("\n").filter((line) => line !== "")
        expect(lines, name).toHaveLength(1)
        expect(lines[0], name).toContain(expected)
        expect(lines[0], name).toMatch(/^effect-aws-credentials: .*--help/)
        expect(lines[0], name).not.toMatch(/[{}]|_tag/)
      })
    }), { timeout: 120_000 })
})

describe("--help", () => {
  it.scoped("plain text when stdout is not a terminal: no ANSI, no parser boilerplate, the program in USAGE, the exit statuses", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const runs = [["--help"], ["export-credentials", "--help"]]
      const results = yield* all(runs.map((args) => cli(args, homeEnv(home))))
      results.forEach((result, i) => {
        const name = runs[i]!.join(" ")
        expect(result.status, name).toBe(0)
        expect(result.stdout, name).not.toMatch(ansi)
        for (const boilerplate of ["A user-defined piece of text", "--wizard", "--completions", "--log-level", "A true or false value"]) {
          expect(result.stdout, name).not.toContain(boilerplate)
        }
        expect(result.stdout.split("\n")[0], name).toMatch(/^USAGE {2}effect-aws-credentials /)
        for (const status of ["0 ", "1 ", "2 ", "3 ", "64 "]) expect(result.stdout, name).toContain(`\n  ${status}`)
      })
      for (const command of ["explain", "list-profiles", "export-credentials", "--profile", "--region"]) {
        expect(results[0]!.stdout).toContain(command)
      }
      expect(results[1]!.stdout).toContain("the one command\nthat prints secrets")
      // The commands' help, in-process: the same text the bin prints.
      for (const command of Args.commands) {
        const text = Args.help(command, false)
        assert.match(text, new RegExp(`^USAGE  effect-aws-credentials ${command}`))
        assert.include(text, "  64  usage error")
        assert.notMatch(text, ansi)
      }
    }), { timeout: 60_000 })

  it.effect("on a terminal the headings are bold; NO_COLOR or TERM=dumb turn that off", () =>
    Effect.gen(function*() {
      const [styled, noColor, dumb] = yield* all([
        runOnTerminal(["--help"], {}),
        runOnTerminal(["--help"], { NO_COLOR: "1" }),
        runOnTerminal(["--help"], { TERM: "dumb" })
      ])
      expect(styled.status).toBe(0)
      expect(styled.terminal).toContain("\u001b[1mUSAGE\u001b[0m")
      for (const plain of [noColor, dumb]) {
        expect(plain.status).toBe(0)
        expect(plain.terminal).toContain("USAGE  effect-aws-credentials")
        expect(plain.terminal).not.toMatch(ansi)
      }
    }), { timeout: 60_000 })
})

describe("explain", () => {
  it.scoped("--profile works before and after the command, and the report says it came from --profile", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials(`[dev]\naws_access_key_id = AKIACLIDEV0000000001\naws_secret_access_key = ${secret}\n`)
      const [before, after, human] = yield* all([
        cli(["--profile", "dev", "explain", "--json"], homeEnv(home)),
        cli(["explain", "--json", "--profile", "dev"], homeEnv(home)),
        cli(["explain", "--profile=dev"], homeEnv(home))
      ])
      for (const result of [before, after]) {
        expect(result.status, result.stderr).toBe(0)
        expect(JSON.parse(result.stdout)).toMatchObject({
          profile: "dev",
          credentials: { source: "shared-credentials-file", accessKeyId: "AKIACLIDEV0000000001" }
        })
      }
      expect(human.status).toBe(0)
      expect(human.stdout).toContain("Profile      dev (from --profile)")
      for (const result of [before, after, human]) expect(result.stdout + result.stderr).not.toContain(secret)
    }), { timeout: 60_000 })

  it.scoped("--verify: the identity of good keys (exit 0), a refusal in the JSON and exit status 3", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      home.writeCredentials(`[dev]\naws_access_key_id = AKIACLIVERIFY0001WXYZ\naws_secret_access_key = ${secret}\n`)
      const env = homeEnv(home, { AWS_REGION: "eu-west-1", AWS_ENDPOINT_URL_STS: sts.url })
      const good = yield* Effect.promise(() => cli(["explain", "--verify", "--profile", "dev"], env))
      expect(good.status, good.stderr).toBe(0)
      expect(good.stdout).toContain("identity       account 123456789012, arn arn:aws:iam::123456789012:user/fake")
      sts.inject(StsServer.Fault.error(403, "SignatureDoesNotMatch", `the secret was ${secret}`))
      const refused = yield* Effect.promise(() => cli(["--profile", "dev", "explain", "--json", "--verify"], env))
      expect(refused.status, refused.stderr).toBe(3)
      expect(JSON.parse(refused.stdout)).toMatchObject({
        ok: true,
        identity: null,
        verification: {
          code: "SignatureDoesNotMatch",
          outcome: "rejected",
          message: "STS GetCallerIdentity: SignatureDoesNotMatch: the secret key does not match access key " +
            `AKIA...WXYZ, from profile dev in ${home.credentialsPath}:2 (shared-credentials-file)`
        }
      })
      expect(sts.calls("GetCallerIdentity").map((call) => call.accessKeyId)).toEqual([
        "AKIACLIVERIFY0001WXYZ",
        "AKIACLIVERIFY0001WXYZ"
      ])
      for (const result of [good, refused]) expect(result.stdout + result.stderr).not.toContain(secret)
    }), { timeout: 60_000 })

  it.scoped("each reason is printed once; no region hint when the files are the problem", () =>
    Effect.gen(function*() {
      const [none, broken, malformed, missing] = yield* Effect.all([tempHome, tempHome, tempHome, tempHome])
      broken.writeCredentials("[default]\naws_access_key_id = AKIACLIBROKEN0000001\n")
      malformed.writeConfig("[default]\nregion\n")
      const results = yield* all([
        cli(["explain"], homeEnv(none)),
        cli(["explain"], homeEnv(broken)),
        cli(["explain"], homeEnv(malformed)),
        cli(["explain", "--profile", "nope"], homeEnv(missing))
      ])
      expect(results.map((r) => r.status)).toEqual([1, 2, 2, 2])
      const [noneOut, brokenOut, malformedOut, missingOut] = results.map((r) => r.stdout)
      const count = (text: string, part: string) => text.split(part).length - 1
      // Nothing found: each link's reason once (the table), not again under the error.
      expect(noneOut).toContain("none of the 12 sources above had any")
      expect(count(noneOut!, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")).toBeLessThanOrEqual(1)
      // Nothing outside the table repeats a reason of the table.
      const rows = noneOut!.split("\n").filter((l) => /^ {2}\d/.test(l))
      const outside = noneOut!.split("\n").filter((l) => !/^ {2}\d/.test(l)).join("\n")
      expect(rows).toHaveLength(12)
      for (const row of rows) {
        const reason = row.replace(/^.*? ms {2,}/, "").trim()
        expect(outside, reason).not.toContain(reason)
      }
      // A broken source: its message once, in the table, and the error points at it.
      // (the file's path also heads the report; with its line, only the message has it)
      expect(count(brokenOut!, `${broken.credentialsPath}:`)).toBe(1)
      expect(brokenOut).toMatch(/shared-credentials-file failed \(CredentialsError, PartialCredentials\), see #\d+ above/)
      expect(noneOut).toContain("set AWS_REGION")
      expect(brokenOut).toContain("set AWS_REGION")
      for (const out of [malformedOut!, missingOut!]) {
        expect(out).toContain("Region       none")
        expect(out).not.toContain("set AWS_REGION")
      }
      expect(malformedOut).toContain(`${malformed.configPath}:2`)
      expect(missingOut).toContain("ProfileNotFound")
    }), { timeout: 60_000 })

  it.scoped("long reasons wrap at the width given (the terminal's), and the text is kept whole", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const explanation = yield* explain({ chain: { botoConfig: { defaultPaths: [] } } }).pipe(
        withEnv(home.env({})),
        Effect.provide(platformLayer)
      )
      const wide = formatHuman(explanation, DateTime.unsafeMake(0))
      const narrow = formatHuman(explanation, DateTime.unsafeMake(0), { width: 80 })
      const table = (text: string) => text.split("\n").filter((line) => /^ {2}(\d| {2} )/.test(line))
      assert.isTrue(table(wide).some((line) => line.length > 80), "a reason longer than 80 columns to wrap")
      for (const line of table(narrow)) assert.isAtMost(line.length, 80, line)
      // Words longer than the width are cut: compare the text without its spacing.
      const words = (lines: ReadonlyArray<string>) => lines.join("").replace(/\s+/g, "")
      assert.strictEqual(words(table(narrow)), words(table(wide)))
      assert.deepStrictEqual(wrap("a bb ccc dddddddddd", 4), ["a bb", "ccc", "dddd", "dddd", "dd"])
      assert.deepStrictEqual(wrap("no wrap at all", undefined), ["no wrap at all"])
    }))

  it.scoped("on a terminal (stdout too), the report wraps at the terminal's columns", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const result = yield* Effect.promise(() => runOnTerminal(["explain"], homeEnv(home), { columns: 90 }))
      expect(result.status).toBe(1)
      const table = result.terminal.split(/\r?\n/).filter((line) => /^ {2}\d/.test(line))
      expect(table.length).toBe(12)
      for (const line of result.terminal.split(/\r?\n/)) expect(line.length, line).toBeLessThanOrEqual(90)
    }), { timeout: 60_000 })
})

/** A container credentials endpoint on 127.0.0.1 that answers after ~1.5 s (the slow link). */
const slowContainerEndpoint = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const server = http.createServer((_request, response) => {
      const timer = setTimeout(() => {
        response.setHeader("content-type", "application/json")
        response.end(JSON.stringify({
          AccessKeyId: "ASIACLISLOW000000001",
          SecretAccessKey: secret,
          Token: token,
          Expiration: "2099-01-01T00:00:00Z"
        }))
      }, 1500)
      response.on("close", () => clearTimeout(timer))
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
      // A client that gave up must not keep close() waiting.
      server.closeAllConnections()
    })
).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/credentials`))

describe("progress on a terminal", () => {
  it.scoped("a link waiting more than a second shows on stderr what it waits for; never on stdout, under --json or off a terminal", () =>
    Effect.gen(function*() {
      const url = yield* slowContainerEndpoint
      const home = yield* tempHome
      const env = homeEnv(home, { AWS_CONTAINER_CREDENTIALS_FULL_URI: url })
      const [human, json, piped] = yield* all([
        runOnTerminal(["explain"], env, { stdoutToFile: true }),
        runOnTerminal(["explain", "--json"], env, { stdoutToFile: true }),
        cli(["explain"], env)
      ])
      expect(human.status, human.terminal).toBe(0)
      // stderr (the terminal): the wait, then the result in its place.
      expect(human.terminal).toContain(`container-role: waiting for GET ${url}, attempt 1 of 3`)
      expect(human.terminal).toMatch(/attempt 1 of 3, \d+\.\d s left/)
      expect(human.terminal).toMatch(/\r\u001b\[2Kcontainer-role: resolved after \d+\.\d s/)
      // stdout (a file): the report only.
      expect(human.stdout).toContain("Credentials from container-role")
      expect(human.stdout).not.toContain("waiting for")
      expect(human.stdout).not.toContain("\r")
      expect(json.status).toBe(0)
      expect(json.terminal).not.toContain("waiting for")
      expect(JSON.parse(json.stdout!)).toMatchObject({ ok: true, credentials: { source: "container-role" } })
      expect(piped.status).toBe(0)
      expect(piped.stderr).not.toContain("waiting for")
      for (const out of [human.terminal, human.stdout!, json.terminal, json.stdout!, piped.stdout, piped.stderr]) {
        expect(out).not.toContain(secret)
        expect(out).not.toContain(token)
      }
    }), { timeout: 60_000 })
})

describe("list-profiles", () => {
  it.scoped("every profile of both files, once each, config file first, from AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const config = home.write(
        "elsewhere/config",
        "[profile zeta]\nregion = eu-west-1\n[default]\n[sso-session corp]\nsso_region = us-east-1\n" +
          "[profile alpha]\n[services local]\ns3 =\n  endpoint_url = http://127.0.0.1\n[profile zeta]\n"
      )
      const credentials = home.write(
        "elsewhere/credentials",
        `[alpha]\naws_access_key_id = AKIA1\naws_secret_access_key = ${secret}\n[only-here]\n[beta]\n`
      )
      home.writeConfig("[profile not-this-one]\n")
      const result = yield* Effect.promise(() =>
        cli(["list-profiles"], homeEnv(home, { AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials }))
      )
      expect(result.status, result.stderr).toBe(0)
      expect(result.stdout).toBe("zeta\ndefault\nalpha\nonly-here\nbeta\n")
      expect(result.stderr).toBe("")
    }), { timeout: 60_000 })

  it.scoped("a file that does not parse: one line on stderr naming file and line, exit 2; no files: nothing, exit 0", () =>
    Effect.gen(function*() {
      const [home, empty] = yield* Effect.all([tempHome, tempHome])
      home.writeConfig("[default]\nregion = us-east-1\n")
      home.writeCredentials(`[default]\naws_access_key_id = AKIA1\naws_secret_access_key ${secret}\n`)
      const [broken, none] = yield* all([cli(["list-profiles"], homeEnv(home)), cli(["list-profiles"], homeEnv(empty))])
      expect(broken.status).toBe(2)
      expect(broken.stdout).toBe("")
      const lines = broken.stderr.split("\n").filter((line) => line !== "")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(`${home.credentialsPath}:3`)
      expect(broken.stderr).not.toContain(secret)
      expect(none.status).toBe(0)
      expect(none.stdout).toBe("")
    }), { timeout: 60_000 })
})

describe("export-credentials", () => {
  const envKeys = {
    AWS_ACCESS_KEY_ID: "AKIACLIEXPORT0000001",
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_SESSION_TOKEN: token,
    AWS_CREDENTIAL_EXPIRATION: "2099-01-02T03:04:05Z"
  }

  it.scoped("the AWS CLI's formats, exactly; process by default", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const env = homeEnv(home, envKeys)
      const [byDefault, json, shell, noExport] = yield* all([
        cli(["export-credentials"], env),
        cli(["--format", "json", "export-credentials"], env),
        cli(["export-credentials", "--format", "env"], env),
        cli(["export-credentials", "--format=env-no-export"], env)
      ])
      const document = [
        "{",
        `  "Version": 1,`,
        `  "AccessKeyId": "AKIACLIEXPORT0000001",`,
        `  "SecretAccessKey": "${secret}",`,
        `  "SessionToken": "${token}",`,
        `  "Expiration": "2099-01-02T03:04:05+00:00"`,
        "}",
        ""
      ].join("\n")
      for (const result of [byDefault, json]) {
        expect(result.status, result.stderr).toBe(0)
        expect(result.stdout).toBe(document)
      }
      const lines = [
        "AWS_ACCESS_KEY_ID=AKIACLIEXPORT0000001",
        `AWS_SECRET_ACCESS_KEY=${secret}`,
        `AWS_SESSION_TOKEN=${token}`,
        "AWS_CREDENTIAL_EXPIRATION=2099-01-02T03:04:05+00:00"
      ]
      expect(shell.stdout).toBe(lines.map((line) => `export ${line}\n`).join(""))
      expect(noExport.stdout).toBe(lines.map((line) => `${line}\n`).join(""))
      for (const result of [byDefault, shell, noExport]) expect(result.stderr).not.toContain(secret)
      const credentials = Credentials.make({ accessKeyId: "AKIA1", secretAccessKey: secret, source: "env" })
      assert.strictEqual(render(credentials, "process"), render(credentials, "json"))
      assert.strictEqual(render(credentials, "process"), `{\n  "Version": 1,\n  "AccessKeyId": "AKIA1",\n  "SecretAccessKey": "${secret}"\n}\n`)
      assert.strictEqual(pythonIsoformat(DateTime.unsafeMake("2026-11-29T10:00:00.250Z")), "2026-11-29T10:00:00.250000+00:00")
    }), { timeout: 60_000 })

  it.scoped("feeds our own credential_process: a profile whose process exports another profile's keys resolves them", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx")
      const bin = path.join(repoRoot, "src", "bin.ts")
      home.writeCredentials(`[base]\naws_access_key_id = AKIACLIBASE000000001\naws_secret_access_key = ${otherSecret}\n`)
      home.writeConfig(
        `[profile fed]\ncredential_process = ${tsx} --conditions=effect-aws-credentials-source ${bin} export-credentials --profile base\n` +
          `[profile loop]\ncredential_process = ${tsx} --conditions=effect-aws-credentials-source ${bin} export-credentials --profile loop\n`
      )
      const [explained, exported, loop] = yield* all([
        cli(["explain", "--json", "--profile", "fed"], homeEnv(home)),
        cli(["export-credentials", "--profile", "fed", "--format", "env-no-export"], homeEnv(home)),
        cli(["export-credentials", "--profile", "loop"], homeEnv(home))
      ])
      expect(explained.status, explained.stderr).toBe(0)
      expect(JSON.parse(explained.stdout)).toMatchObject({
        profile: "fed",
        credentials: { source: "custom-process", accessKeyId: "AKIACLIBASE000000001", sessionToken: false }
      })
      expect(explained.stdout + explained.stderr).not.toContain(otherSecret)
      expect(exported.status, exported.stderr).toBe(0)
      expect(exported.stdout).toBe(`AWS_ACCESS_KEY_ID=AKIACLIBASE000000001\nAWS_SECRET_ACCESS_KEY=${otherSecret}\n`)
      // A process that exports its own profile stops at once, with the chain of profiles.
      expect(loop.status).toBe(2)
      expect(loop.stdout).toBe("")
      expect(loop.stderr).toContain("loop -> loop")
    }), { timeout: 120_000 })

  it.scoped("failures: the chain's message on stderr, exit 1 for nothing found, 2 for a broken source; no secret", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const [none, broken] = yield* all([
        cli(["export-credentials"], homeEnv(home)),
        cli(["export-credentials"], homeEnv(home, { AWS_ACCESS_KEY_ID: "AKIACLIPARTIAL000001" }))
      ])
      expect(none.status).toBe(1)
      expect(none.stdout).toBe("")
      expect(none.stderr).toContain("No credentials found")
      expect(broken.status).toBe(2)
      expect(broken.stdout).toBe("")
      expect(broken.stderr).toContain("env")
      expect(broken.stderr.split("\n").filter((l) => l !== "")).toHaveLength(1)
    }), { timeout: 60_000 })
})
