/**
 * The fault matrix (issue 10): every remote source (instance metadata, container endpoint, STS,
 * SSO portal, SSO-OIDC, sign-in) behind the same fault-injecting proxy (`support/faultProxy.ts`),
 * fourteen faults each. Every cell asserts the outcome (recovered, a typed error with its reason,
 * or unavailable), a bound on the time it took, and that nothing secret (the tokens sent, the
 * credentials served, what an echoing server sent back) shows in the error, its JSON, the logs, or
 * the spans and their attributes and events; and that nothing (socket, process, timer) is left behind.
 * For the faults that put server text or secrets in play, `explain` (its JSON and its table) runs
 * the default chain against the same fault and is scanned too.
 *
 * Some outcomes are worth a word:
 * - instance metadata: a service that does not answer, or answers 5xx / 429, is an outage
 *   (unavailable, as botocore); expired credentials from it are served extended, with a warning
 *   (static stability); a truncated answer truncates the token too, which the service then
 *   refuses (`ServiceError`).
 * - STS speaks XML: a 4xx whose body is not an STS error document is `InvalidResponse`.
 * - SSO-OIDC: any failure to refresh an expired token is `TokenExpired` (with why, and the
 *   `aws sso login` to run); SSO-OIDC and sign-in answers carry lifetimes (`expiresIn`), not
 *   timestamps, so the "expired credentials" fault leaves them as they are.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as crypto from "node:crypto"
import * as path from "node:path"
import type { AwsCredentials } from "../src/AwsCredentials.js"
import type { AwsSession } from "../src/AwsSession.js"
import { explain, formatHuman } from "../src/internal/explain.js"
import * as Container from "../src/providers/ContainerCredentials.js"
import * as InstanceMetadata from "../src/providers/InstanceMetadata.js"
import * as Login from "../src/providers/LoginCredentials.js"
import * as Sso from "../src/providers/SsoCredentials.js"
import * as WebIdentity from "../src/providers/WebIdentity.js"
import * as FaultProxy from "./support/faultProxy.js"
import {
  type Env,
  type Platform,
  platformLayer,
  resolveWith,
  type TempHome,
  tempHome,
  withCapturedLogs,
  withEnv
} from "./support/fixtures.js"
import { metadataServer, servedSecrets } from "./support/metadataServer.js"
import * as SsoServer from "./support/ssoServer.js"
import { recordingTracer, renderSpans } from "./support/spans.js"
import * as StsServer from "./support/stsServer.js"

type Cell =
  | "401"
  | "403"
  | "404"
  | "429"
  | "500"
  | "503 then OK"
  | "slow first byte"
  | "dripping body"
  | "body over the cap"
  | "dropped connection"
  | "truncated JSON"
  | "wrong content type"
  | "error body echoing the token"
  | "expired credentials"

const cells: ReadonlyArray<readonly [Cell, FaultProxy.Fault, number | undefined]> = [
  ["401", { _tag: "Status", status: 401 }, undefined],
  ["403", { _tag: "Status", status: 403 }, undefined],
  ["404", { _tag: "Status", status: 404 }, undefined],
  ["429", { _tag: "Status", status: 429 }, undefined],
  ["500", { _tag: "Status", status: 500 }, undefined],
  ["503 then OK", { _tag: "Status", status: 503 }, 1],
  ["slow first byte", { _tag: "Slow", ms: 3_000 }, undefined],
  ["dripping body", { _tag: "Drip", everyMs: 400 }, undefined],
  ["body over the cap", { _tag: "Huge", bytes: 16 * 1024 * 1024 }, undefined],
  ["dropped connection", { _tag: "Drop" }, undefined],
  ["truncated JSON", { _tag: "Truncate" }, undefined],
  ["wrong content type", { _tag: "WrongType" }, undefined],
  ["error body echoing the token", { _tag: "EchoToken" }, undefined],
  ["expired credentials", { _tag: "Expired" }, undefined]
]

/** `recovered`, `unavailable`, or `error <reason>`. */
type Outcome = string

interface Setup {
  readonly layer: Layer.Layer<AwsCredentials, unknown, AwsSession | Platform>
  readonly env: Env
  /** Everything secret in play: tokens sent, credentials served. */
  readonly secrets: () => ReadonlyArray<string>
}

interface Source {
  readonly name: string
  /** Starts the fake behind `proxy` and configures the source to go through the proxy. */
  readonly setup: (home: TempHome, proxyTo: (target: string) => Effect.Effect<FaultProxy.FaultProxy, never, import("effect/Scope").Scope>) => Effect.Effect<Setup & { readonly proxy: FaultProxy.FaultProxy }, never, import("effect/Scope").Scope>
  readonly expected: Readonly<Record<Cell, Outcome>>
}

/** What most remote sources do: typed errors for refusals, timeouts and garbage; retries that recover. */
const typical: Readonly<Record<Cell, Outcome>> = {
  "401": "error ServiceError",
  "403": "error ServiceError",
  "404": "error ServiceError",
  "429": "error ServiceError",
  "500": "error ServiceError",
  "503 then OK": "recovered",
  "slow first byte": "error Timeout",
  "dripping body": "error Timeout",
  "body over the cap": "error InvalidResponse",
  "dropped connection": "error Unreachable",
  "truncated JSON": "error InvalidResponse",
  "wrong content type": "recovered",
  "error body echoing the token": "error ServiceError",
  "expired credentials": "error Expired"
}

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z")
const planted = (label: string) => `${label}${crypto.randomBytes(12).toString("hex")}`

const timeout = "1 second"

const sources: ReadonlyArray<Source> = [
  {
    name: "instance metadata",
    setup: (home, proxyTo) =>
      Effect.gen(function*() {
        const server = yield* metadataServer()
        const proxy = yield* proxyTo(server.url)
        return {
          proxy,
          layer: InstanceMetadata.layerWith({ timeout }),
          env: home.env({ AWS_EC2_METADATA_DISABLED: "false", AWS_EC2_METADATA_SERVICE_ENDPOINT: proxy.url }),
          secrets: () => servedSecrets(server)
        }
      }),
    expected: {
      ...typical,
      "404": "unavailable",
      "429": "unavailable",
      "500": "unavailable",
      "slow first byte": "unavailable",
      "dripping body": "unavailable",
      "dropped connection": "unavailable",
      "truncated JSON": "error ServiceError",
      "expired credentials": "recovered"
    }
  },
  {
    name: "container endpoint",
    setup: (home, proxyTo) =>
      Effect.gen(function*() {
        const token = planted("containerAuthToken")
        const server = yield* metadataServer({ containerToken: token })
        const proxy = yield* proxyTo(server.url)
        return {
          proxy,
          layer: Container.layerWith({ timeout }),
          env: home.env({
            AWS_CONTAINER_CREDENTIALS_FULL_URI: `${proxy.url}/credentials`,
            AWS_CONTAINER_AUTHORIZATION_TOKEN: token
          }),
          secrets: () => [token, ...servedSecrets(server)]
        }
      }),
    expected: typical
  },
  {
    name: "STS (web identity)",
    setup: (home, proxyTo) =>
      Effect.gen(function*() {
        const token = `eyJ${planted("webIdentity")}.eyJ${planted("claims")}.${planted("sig")}`
        const server = yield* StsServer.make()
        const proxy = yield* proxyTo(server.url)
        return {
          proxy,
          layer: WebIdentity.layerWith({ timeout, maxAttempts: 3 }),
          env: home.env({
            AWS_WEB_IDENTITY_TOKEN_FILE: home.write("token", token),
            AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/matrix",
            AWS_REGION: "us-east-1",
            AWS_ENDPOINT_URL_STS: proxy.url
          }),
          secrets: () => [token, ...server.issued.flatMap((i) => [i.secretAccessKey, i.sessionToken])]
        }
      }),
    expected: {
      ...typical,
      "401": "error InvalidResponse",
      "403": "error InvalidResponse",
      "404": "error InvalidResponse",
      "error body echoing the token": "error InvalidResponse"
    }
  },
  {
    name: "SSO portal",
    setup: (home, proxyTo) =>
      Effect.gen(function*() {
        const accessToken = planted("ssoAccessToken")
        const server = yield* SsoServer.make()
        server.acceptToken(accessToken)
        const proxy = yield* proxyTo(server.url)
        const startUrl = "https://matrix.awsapps.com/start"
        home.writeConfig(
          `[profile legacy]\nsso_start_url = ${startUrl}\nsso_region = us-east-1\nsso_account_id = 111122223333\nsso_role_name = Admin\n`
        )
        home.write(
          path.join(".aws", "sso", "cache", `${crypto.createHash("sha1").update(startUrl).digest("hex")}.json`),
          JSON.stringify({ startUrl, region: "us-east-1", accessToken, expiresAt: iso(Date.now() + 3_600_000) })
        )
        return {
          proxy,
          layer: Sso.layerWith({ timeout, maxAttempts: 3 }),
          env: home.env({ AWS_PROFILE: "legacy", AWS_ENDPOINT_URL_SSO: proxy.url }),
          secrets: () => [accessToken, ...server.issued.flatMap((i) => [i.secretAccessKey, i.sessionToken])]
        }
      }),
    expected: {
      ...typical,
      "401": "error TokenExpired"
    }
  },
  {
    name: "SSO-OIDC",
    setup: (home, proxyTo) =>
      Effect.gen(function*() {
        const [clientSecret, refreshToken, oldToken] = [planted("clientSecret"), planted("refreshToken"), planted("old")]
        const server = yield* SsoServer.make()
        server.registerOidc({ clientId: "client-1", clientSecret, refreshToken })
        const proxy = yield* proxyTo(server.url)
        const startUrl = "https://matrix.awsapps.com/start"
        home.writeConfig(
          "[profile dev]\nsso_session = s\nsso_account_id = 111122223333\nsso_role_name = Admin\n\n" +
            `[sso-session s]\nsso_start_url = ${startUrl}\nsso_region = us-east-1\n`
        )
        home.write(
          path.join(".aws", "sso", "cache", `${crypto.createHash("sha1").update("s").digest("hex")}.json`),
          JSON.stringify({
            startUrl,
            region: "us-east-1",
            accessToken: oldToken,
            expiresAt: iso(Date.now() - 60_000),
            clientId: "client-1",
            clientSecret,
            registrationExpiresAt: iso(Date.now() + 86_400_000),
            refreshToken
          })
        )
        return {
          proxy,
          layer: Sso.layerWith({ timeout, maxAttempts: 3 }),
          env: home.env({ AWS_PROFILE: "dev", AWS_ENDPOINT_URL_SSO: server.url, AWS_ENDPOINT_URL_SSO_OIDC: proxy.url }),
          secrets: () => [clientSecret, refreshToken, oldToken, ...server.issued.flatMap((i) => [i.secretAccessKey, i.sessionToken])]
        }
      }),
    expected: {
      ...typical,
      "401": "error TokenExpired",
      "403": "error TokenExpired",
      "404": "error TokenExpired",
      "429": "error TokenExpired",
      "500": "error TokenExpired",
      "slow first byte": "error TokenExpired",
      "dripping body": "error TokenExpired",
      "body over the cap": "error TokenExpired",
      "dropped connection": "error TokenExpired",
      "truncated JSON": "error TokenExpired",
      "error body echoing the token": "error TokenExpired",
      "expired credentials": "recovered"
    }
  },
  {
    name: "sign-in (aws login)",
    setup: (home, proxyTo) =>
      Effect.gen(function*() {
        const [refreshToken, secretKey, sessionToken] = [planted("loginRefresh"), planted("cachedSecret"), planted("cachedToken")]
        const server = yield* SsoServer.make()
        server.registerLogin({ clientId: "arn:aws:signin:::devtools/same-device", refreshToken })
        const proxy = yield* proxyTo(server.url)
        const loginSession = "arn:aws:sts::012345678910:assumed-role/Admin/admin"
        const dpopKey = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
          format: "pem",
          type: "sec1"
        }) as string
        home.writeConfig(`[profile signin]\nlogin_session = ${loginSession}\nregion = us-east-1\n`)
        home.write(
          path.join(".aws", "login", "cache", `${crypto.createHash("sha256").update(loginSession).digest("hex")}.json`),
          JSON.stringify({
            accessToken: {
              accessKeyId: "ASIACACHED",
              secretAccessKey: secretKey,
              sessionToken,
              accountId: "012345678910",
              expiresAt: iso(Date.now() - 60_000)
            },
            clientId: "arn:aws:signin:::devtools/same-device",
            refreshToken,
            idToken: "header.payload.signature",
            dpopKey
          })
        )
        return {
          proxy,
          layer: Login.layerWith({ timeout, maxAttempts: 3 }),
          env: home.env({ AWS_PROFILE: "signin", AWS_ENDPOINT_URL_SIGNIN: proxy.url }),
          secrets: () => [refreshToken, secretKey, sessionToken, ...server.issued.flatMap((i) => [i.secretAccessKey, i.sessionToken])]
        }
      }),
    expected: {
      ...typical,
      "expired credentials": "recovered"
    }
  }
]

/** The process's active handles of the kinds a source could leave behind, counted by kind. */
const handles = (): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const kind of process.getActiveResourcesInfo()) {
    if (/TCP|Pipe|Process|Timeout|Immediate|FSReq/i.test(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1)
  }
  return counts
}

const leftBehind = (before: Map<string, number>, after: Map<string, number>): Array<string> =>
  [...after].filter(([kind, n]) => n > (before.get(kind) ?? 0)).map(([kind, n]) => `${n - (before.get(kind) ?? 0)} ${kind}`)

/** The longest any cell may take: a few attempts of one second each, and their waits. */
const cellBoundMs = 12_000

/** The cells whose answers carry server text or secrets: `explain` is scanned on these too. */
const explainedCells: ReadonlyArray<Cell> = ["401", "500", "truncated JSON", "error body echoing the token", "expired credentials"]

/** The secrets `explain` showed (JSON, table, logs) when run on the default chain under one fault. */
const explainLeaks = (source: Source, cell: Cell) =>
  Effect.scoped(Effect.gen(function*() {
    const [, fault, times] = cells.find(([name]) => name === cell)!
    const home = yield* tempHome
    const setup = yield* source.setup(home, FaultProxy.make)
    setup.proxy.inject(fault, times)
    const [exit, lines] = yield* withCapturedLogs(
      explain({}).pipe(Effect.provide(platformLayer), withEnv(setup.env))
    )
    if (Exit.isFailure(exit)) return [`${cell}: explain failed: ${String(exit.cause)}`]
    if (setup.proxy.requests() === 0) return [`${cell}: explain never reached the ${source.name} (the scan would see nothing)`]
    const texts = [
      JSON.stringify(exit.value.report),
      formatHuman(exit.value, yield* DateTime.now),
      ...lines.map((line) => `${line.rendered} ${JSON.stringify(line.annotations)}`)
    ].join("\n")
    return setup.secrets().filter((secret) => secret.length >= 8 && texts.includes(secret)).map((secret) =>
      `${cell}: explain showed a secret (${secret.slice(0, 6)}...)`
    )
  }))

describe("fault matrix", () => {
  for (const source of sources) {
    it.scopedLive(`${source.name}: ${cells.length} faults, each a stated outcome within ${cellBoundMs / 1000} s, no secret shown, nothing left behind`, () =>
      Effect.gen(function*() {
        const observed: Array<string> = []
        const mismatches: Array<string> = []
        for (const [cell, fault, times] of cells) {
          const before = handles()
          const outcome = yield* Effect.scoped(Effect.gen(function*() {
            const home = yield* tempHome
            const setup = yield* source.setup(home, FaultProxy.make)
            setup.proxy.inject(fault, times)
            const started = Date.now()
            const { spans, tracer } = recordingTracer()
            const [exit, lines] = yield* withCapturedLogs(
              resolveWith(setup.layer, { env: setup.env }).pipe(Effect.flatten, Effect.withTracer(tracer))
            )
            const ms = Date.now() - started
            const got: Outcome = Exit.isSuccess(exit)
              ? "recovered"
              : (() => {
                const error = exit.cause._tag === "Fail" ? exit.cause.error as { _tag: string; reason?: string } : undefined
                return error === undefined
                  ? `defect ${String(exit.cause)}`
                  : error._tag === "CredentialsUnavailable"
                  ? "unavailable"
                  : `error ${error.reason}`
              })()
            const texts = [
              Exit.isFailure(exit) ? String(exit.cause) : "",
              Exit.isFailure(exit) && exit.cause._tag === "Fail" ? JSON.stringify(exit.cause.error) : "",
              ...lines.map((line) => `${line.rendered} ${JSON.stringify(line.annotations)}`),
              renderSpans(spans)
            ].join("\n")
            for (const secret of setup.secrets()) {
              if (secret.length >= 8 && texts.includes(secret)) mismatches.push(`${cell}: a secret was shown: ${texts.slice(0, 500)}`)
            }
            if (ms > cellBoundMs) mismatches.push(`${cell}: took ${ms} ms`)
            if (spans.length === 0) mismatches.push(`${cell}: no span was recorded (the scan would see nothing)`)
            return { got, ms }
          }))
          // Nothing left behind once the scope is closed: no socket, child process or timer.
          yield* Effect.sleep("50 millis")
          const left = leftBehind(before, handles())
          if (left.length > 0) mismatches.push(`${cell}: left behind ${left.join(", ")}`)
          observed.push(`  ${cell.padEnd(30)} ${outcome.got.padEnd(24)} ${String(outcome.ms).padStart(5)} ms`)
          if (outcome.got !== source.expected[cell]) {
            mismatches.push(`${cell}: expected ${source.expected[cell]}, got ${outcome.got}`)
          }
        }
        for (const cell of explainedCells) mismatches.push(...yield* explainLeaks(source, cell))
        console.log(`fault matrix, ${source.name}:\n${observed.join("\n")}`)
        assert.deepStrictEqual(mismatches, [])
      }), { timeout: 240_000 })
  }
})
