import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as path from "node:path"
import { AwsCredentials } from "../src/AwsCredentials.js"
import type { CredentialsError } from "../src/CredentialsError.js"
import * as Process from "../src/providers/ProcessCredentials.js"
import {
  getFailure,
  getSuccess,
  outcomes,
  processJson,
  resolveWith,
  runWith,
  shellQuote,
  type TempHome,
  tempHome
} from "./support/fixtures.js"

const layer = Process.layerWith({ timeout: "1 second" })

/** Writes `script` and points the default profile's credential_process at it. */
const withProcess = (home: TempHome, body: string, args = ""): string => {
  const script = home.script("credential-process.sh", body)
  home.writeConfig(`[default]\nregion = us-east-1\ncredential_process = ${script}${args}\n`)
  return script
}

const printing = (json: string) => `printf '%s' ${shellQuote(json)}`

const failureOf = (home: TempHome) =>
  Effect.map(resolveWith(layer, { env: home.env() }), (exit) => {
    const error = getFailure(exit)
    assert.strictEqual(error._tag, "CredentialsError")
    return error as CredentialsError
  })

describe("Process", () => {
  it.scopedLive("runs credential_process and reads version 1 JSON with an Expiration", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const expiration = new Date(Date.now() + 3600_000)
      expiration.setUTCMilliseconds(0)
      const script = withProcess(
        home,
        printing(processJson({
          AccessKeyId: "AKIAPROCESS",
          SecretAccessKey: "process-secret",
          SessionToken: "process-token",
          Expiration: expiration.toISOString().replace(".000Z", "Z"),
          AccountId: "123456789012"
        }))
      )
      const { attempts, credentials } = getSuccess(yield* resolveWith(layer, { env: home.env() }))
      assert.strictEqual(credentials.source, "custom-process")
      assert.strictEqual(credentials.accessKeyId, "AKIAPROCESS")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "process-secret")
      assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some("process-token"))
      assert.deepStrictEqual(credentials.accountId, Option.some("123456789012"))
      assert.deepStrictEqual(
        Option.map(credentials.expiration, DateTime.toEpochMillis),
        Option.some(expiration.getTime())
      )
      assert.strictEqual(
        credentials.provenance,
        `credential_process "${script}" of profile default (${home.configPath}:3)`
      )
      assert.deepStrictEqual(outcomes(attempts), [["custom-process", "resolved"]])
    }))

  it.scopedLive("reads output without Expiration or SessionToken (null counts as absent)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      withProcess(
        home,
        printing(
          processJson({ AccessKeyId: "AKIAPROCESS", SecretAccessKey: "s", SessionToken: null, Expiration: null })
        )
      )
      const { credentials } = getSuccess(yield* resolveWith(layer, { env: home.env() }))
      assert.strictEqual(credentials.accessKeyId, "AKIAPROCESS")
      assert.isTrue(Option.isNone(credentials.expiration))
      assert.isTrue(Option.isNone(credentials.sessionToken))
    }))

  it.scopedLive("splits the command like a POSIX shell, without running one", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      withProcess(
        home,
        `printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"%s"}' "$1" "$2"`,
        ` "AKIA SPACED" 'a$HOME;b'`
      )
      const { credentials } = getSuccess(yield* resolveWith(layer, { env: home.env() }))
      assert.strictEqual(credentials.accessKeyId, "AKIA SPACED")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "a$HOME;b")
    }))

  it.scopedLive("is unavailable when the profile has no credential_process", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig("[default]\nregion = us-east-1\n")
      const error = getFailure(yield* resolveWith(layer, { env: home.env() }))
      assert.strictEqual(error._tag, "CredentialsUnavailable")
      assert.include(error.message, "has no credential_process")
    }))

  it.scopedLive("a process that hangs is killed at the timeout (ProcessTimeout), even if it traps SIGTERM", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const pidFile = path.join(home.dir, "pid")
      for (const body of ["sleep 30", "trap '' TERM\nwhile true; do sleep 1; done"]) {
        // The script records its pid and says something on stderr before it hangs.
        withProcess(home, `echo $$ > ${pidFile}\necho 'waiting for the MFA device' >&2\n${body}`)
        const started = Date.now()
        const error = yield* failureOf(home)
        assert.strictEqual(error.reason, "ProcessTimeout")
        assert.strictEqual(error.source, "custom-process")
        assert.include(error.message, "was killed")
        assert.include(error.message, "stderr: waiting for the MFA device")
        assert.isBelow(Date.now() - started, 5_000)
        // Really gone: signal 0 to its pid finds no process.
        const pid = Number(fs.readFileSync(pidFile, "utf8").trim())
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))
        assert.throws(() => process.kill(pid, 0), /ESRCH/)
      }
    }))

  it.scopedLive("a non-zero exit is ProcessFailed with the exit code and stderr, never stdout", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      withProcess(home, "echo STDOUT-MARKER-1234\necho 'denied by policy' >&2\nexit 3")
      const error = yield* failureOf(home)
      assert.strictEqual(error.reason, "ProcessFailed")
      assert.strictEqual(error.profile, "default")
      assert.strictEqual(error.path, home.configPath)
      assert.strictEqual(error.line, 3)
      assert.include(error.message, "exited with code 3")
      assert.include(error.message, "denied by policy")
      assert.notInclude(error.message, "STDOUT-MARKER-1234")
    }))

  it.scopedLive("a program that does not exist is ProcessFailed", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig(`[default]\ncredential_process = ${path.join(home.dir, "no-such-program")}\n`)
      const error = yield* failureOf(home)
      assert.strictEqual(error.reason, "ProcessFailed")
      assert.include(error.message, "not found")
    }))

  it.scopedLive("output that is not JSON is InvalidProcessOutput and is not echoed", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      withProcess(home, "echo 'GARBAGE-MARKER {not json'\necho 'profile not unlocked' >&2")
      const error = yield* failureOf(home)
      assert.strictEqual(error.reason, "InvalidProcessOutput")
      assert.notInclude(error.message, "GARBAGE-MARKER")
      assert.include(error.message, "exited with code 0")
      assert.include(error.message, "stderr: profile not unlocked")
    }))

  it.scopedLive("a wrong Version or missing fields are InvalidProcessOutput naming the fields", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        [{ Version: 2, AccessKeyId: "AKIAPROCESS", SecretAccessKey: "VALUE-MARKER" }, "Version"],
        [{ Version: 1, AccessKeyId: "AKIAPROCESS" }, "SecretAccessKey is missing"],
        [{ Version: 1, SecretAccessKey: "VALUE-MARKER" }, "AccessKeyId is missing"],
        [{ AccessKeyId: "AKIAPROCESS", SecretAccessKey: "VALUE-MARKER" }, "Version is missing"],
        [{ Version: 1, AccessKeyId: "AKIAPROCESS", SecretAccessKey: "VALUE-MARKER", Expiration: "soon" }, "Expiration"]
      ]
      for (const [json, expected] of cases) {
        withProcess(home, printing(JSON.stringify(json)))
        const error = yield* failureOf(home)
        assert.strictEqual(error.reason, "InvalidProcessOutput", JSON.stringify(json))
        assert.include(error.message, expected)
        assert.notInclude(error.message, "VALUE-MARKER")
      }
    }))

  it.scopedLive("credentials that have already expired are Expired", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      withProcess(
        home,
        printing(processJson({ AccessKeyId: "AKIAPROCESS", SecretAccessKey: "s", Expiration: "2001-01-01T00:00:00Z" }))
      )
      const error = yield* failureOf(home)
      assert.strictEqual(error.reason, "Expired")
      assert.include(error.message, "2001-01-01T00:00:00")
    }))

  it.scopedLive("a huge output (several MB) is cut off: the process is killed, InvalidProcessOutput", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      withProcess(home, "head -c 8000000 /dev/zero | tr '\\000' 'a'\nsleep 30")
      const started = Date.now()
      const error = yield* failureOf(home)
      assert.strictEqual(error.reason, "InvalidProcessOutput")
      assert.include(error.message, "more than 1048576 bytes to stdout")
      assert.isBelow(Date.now() - started, 5_000)
    }))
})

/**
 * Refreshing is driven by `TestClock` (the processes are real, only time is simulated): the
 * process prints a fixed Expiration and the key of its run number, counted in a file.
 */
describe("Process refresh", () => {
  const now = Date.parse("2030-01-01T00:00:00Z")

  const countingProcess = (home: TempHome, expiration: string, options?: { readonly failAfter?: number }) => {
    const counter = path.join(home.dir, "count")
    withProcess(
      home,
      [
        `n=$(cat ${counter} 2>/dev/null || echo 0)`,
        "n=$((n+1))",
        `echo $n > ${counter}`,
        ...(options?.failAfter === undefined
          ? []
          : [`[ $n -gt ${options.failAfter} ] && { echo broken >&2; exit 1; }`]),
        `printf '{"Version":1,"AccessKeyId":"AKIARUN%s","SecretAccessKey":"s","Expiration":"${expiration}"}' "$n"`
      ].join("\n")
    )
    return () => Number(fs.readFileSync(counter, "utf8").trim())
  }

  const getKey = Effect.flatMap(AwsCredentials, (service) => Effect.map(service.get, (c) => c.accessKeyId))

  // These tests move the TestClock by minutes while real processes run; a process timeout on
  // the same clock would fire during the jump, so give it one that a jump cannot reach.
  const layer = Process.layerWith({ timeout: "1 day" })

  it.scoped("runs the process again before the credentials expire, once for all callers", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const home = yield* tempHome
      const runs = countingProcess(home, "2030-01-01T01:00:00Z")
      const exit = yield* runWith(
        layer,
        { env: home.env() },
        Effect.gen(function*() {
          assert.strictEqual(runs(), 1)
          assert.strictEqual(yield* getKey, "AKIARUN1")
          // Before the advisory window (15 minutes ahead) nothing runs.
          yield* TestClock.adjust("44 minutes")
          assert.strictEqual(yield* getKey, "AKIARUN1")
          assert.strictEqual(runs(), 1)
          // In the mandatory window (10 minutes ahead) callers wait for the run the background
          // fiber started, or start it; either way there is one.
          yield* TestClock.adjust("7 minutes")
          // Concurrent callers share one run.
          const keys = yield* Effect.all(Array.from({ length: 8 }, () => getKey), { concurrency: "unbounded" })
          assert.deepStrictEqual(new Set(keys), new Set(["AKIARUN2"]))
          assert.strictEqual(runs(), 2)
        })
      )
      getSuccess(exit)
    }))

  it.scoped("credentials living shorter than the window are not fetched again on every get", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const home = yield* tempHome
      const runs = countingProcess(home, "2030-01-01T00:05:00Z")
      const exit = yield* runWith(
        layer,
        { env: home.env() },
        Effect.gen(function*() {
          assert.strictEqual(yield* getKey, "AKIARUN1")
          // Inside the 10-minute window from the start, yet not fetched again on every get: the
          // first refresh is due half-way through the remaining life.
          yield* TestClock.adjust("1 minute")
          assert.strictEqual(yield* getKey, "AKIARUN1")
          assert.strictEqual(yield* getKey, "AKIARUN1")
          assert.strictEqual(runs(), 1)
          // (The exact refresh moments of short-lived credentials are covered with an in-memory
          // source in Refresh.test.ts; a real process cannot keep pace with a jumping TestClock.)
          // Past the expiry, a process that still prints the same Expiration is an error.
          yield* TestClock.adjust("5 minutes")
          const error = yield* Effect.flip(getKey)
          assert.strictEqual(error.reason, "Expired")
          assert.isAtLeast(runs(), 2)
        })
      )
      getSuccess(exit)
    }))

  it.scoped("invalidate makes the next get run the process again", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const home = yield* tempHome
      const runs = countingProcess(home, "2030-01-01T01:00:00Z")
      const exit = yield* runWith(
        layer,
        { env: home.env() },
        Effect.gen(function*() {
          const service = yield* AwsCredentials
          assert.strictEqual(yield* getKey, "AKIARUN1")
          // Invalidations right after a fetch are ignored (the credentials are that fresh).
          yield* service.invalidate
          assert.strictEqual(yield* getKey, "AKIARUN1")
          yield* TestClock.adjust("10 seconds")
          yield* service.invalidate
          assert.strictEqual(yield* getKey, "AKIARUN2")
          assert.strictEqual(yield* getKey, "AKIARUN2")
          assert.strictEqual(runs(), 2)
        })
      )
      getSuccess(exit)
    }))

  it.scoped("a failed refresh serves the current credentials until they expire, then fails", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const home = yield* tempHome
      countingProcess(home, "2030-01-01T01:00:00Z", { failAfter: 1 })
      const exit = yield* runWith(
        layer,
        { env: home.env() },
        Effect.gen(function*() {
          yield* TestClock.adjust("55 minutes")
          assert.strictEqual(yield* getKey, "AKIARUN1")
          yield* TestClock.adjust("6 minutes")
          const error = yield* Effect.flip(getKey)
          assert.strictEqual(error.reason, "ProcessFailed")
          assert.include(error.message, "broken")
        })
      )
      getSuccess(exit)
    }))
})
