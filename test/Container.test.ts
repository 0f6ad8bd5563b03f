import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { AwsCredentials } from "../src/AwsCredentials.js"
import type * as Credentials from "../src/Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../src/CredentialsError.js"
import * as ContainerFetcher from "../src/internal/container.js"
import * as Container from "../src/providers/ContainerCredentials.js"
import { settingsOf } from "./support/containerSettings.js"
import {
  type Env,
  getFailure,
  getSuccess,
  resolveWith,
  runWith,
  tempHome,
  withCapturedLogs,
  withEnv
} from "./support/fixtures.js"
import * as RefreshWatch from "./support/refreshWatch.js"
import { recordingTracer, renderSpans } from "./support/spans.js"
import {
  credentialsOf,
  failureOf,
  isoSeconds,
  type MetadataServer,
  metadataServer,
  printed,
  recordingClient,
  refusedUrl,
  servedSecrets,
  silentServer
} from "./support/metadataServer.js"



/** Fast retries for tests (botocore waits a second between attempts). */
const fast: Container.Options = { backoff: "10 millis" }

const fullUri = (server: { readonly url: string }, extra: Env = {}): Env => ({
  AWS_CONTAINER_CREDENTIALS_FULL_URI: `${server.url}/credentials`,
  ...extra
})

/** One fetch, outside a layer. */
const fetchOnce = (env: Env, options: Container.Options = fast) =>
  ContainerFetcher.fetchCredentials(settingsOf(options)).pipe(
    Effect.provide(NodeFileSystem.layer),
    Effect.either,
    withEnv(env)
  )

const errorOf = (result: Either.Either<Credentials.Credentials, CredentialsUnavailable | CredentialsError>) => {
  const error = failureOf(result)
  if (error._tag === "CredentialsError") return error
  throw new Error(`expected a CredentialsError, got ${error._tag}: ${error.message}`)
}

const assertNoSecrets = (server: MetadataServer, text: string, extra: ReadonlyArray<string> = []) => {
  for (const secret of [...servedSecrets(server), ...extra]) assert.notInclude(text, secret)
}

describe("Container: configured", () => {
  it.scoped("full URI to loopback: credentials, with Accept: application/json and no Authorization", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      const { attempts, credentials } = getSuccess(
        yield* resolveWith(Container.layerWith(fast), { env: home.env(fullUri(server)) })
      )
      assert.strictEqual(credentials.source, "container-role")
      assert.strictEqual(credentials.accessKeyId, server.served[0]!.AccessKeyId)
      assert.isTrue(Option.isSome(credentials.sessionToken))
      assert.deepStrictEqual(credentials.accountId, Option.some("123456789012"))
      assert.include(credentials.provenance, `${server.url}/credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)`)
      assert.deepStrictEqual(attempts.map((a) => [a.source, a.outcome]), [["container-role", "resolved"]])
      assert.strictEqual(server.counts.container, 1)
      assert.strictEqual(server.requests[0]!.headers.accept, "application/json")
      assert.isUndefined(server.requests[0]!.headers.authorization)
    }))

  it.scoped("AWS_CONTAINER_AUTHORIZATION_TOKEN is sent as Authorization", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer({ containerToken: "Bearer pod-token-1" })
      getSuccess(
        yield* resolveWith(Container.layerWith(fast), {
          env: home.env(fullUri(server, { AWS_CONTAINER_AUTHORIZATION_TOKEN: "Bearer pod-token-1" }))
        })
      )
      assert.strictEqual(server.requests[0]!.headers.authorization, "Bearer pod-token-1")
    }))

  it.scoped("the token file is read again for every fetch (EKS rotates it) and wins over the variable", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer({ containerToken: "rotated-1" })
      const file = home.write("eks/token", "rotated-1")
      const env = home.env(
        fullUri(server, { AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: file, AWS_CONTAINER_AUTHORIZATION_TOKEN: "stale" })
      )
      credentialsOf(yield* fetchOnce(env))
      home.write("eks/token", "rotated-2")
      server.configure({ containerToken: "rotated-2" })
      credentialsOf(yield* fetchOnce(env))
      assert.deepStrictEqual(server.requests.map((r) => r.headers.authorization), ["rotated-1", "rotated-2"])

      // The same through a layer: a refresh (here forced by an invalidation) reads the file again.
      home.write("eks/token", "rotated-3")
      server.configure({ containerToken: "rotated-3" })
      const exit = yield* runWith(
        Container.layerWith(fast),
        { env },
        Effect.gen(function*() {
          const service = yield* AwsCredentials
          const first = yield* service.get
          home.write("eks/token", "rotated-4")
          server.configure({ containerToken: "rotated-4" })
          // Past the engine's invalidation cooldown (5 s); `it.scoped` runs on TestClock.
          yield* TestClock.adjust("6 seconds")
          yield* service.invalidate
          const second = yield* service.get
          return [first, second] as const
        })
      )
      const [first, second] = getSuccess(exit)
      assert.notStrictEqual(first.accessKeyId, second.accessKeyId)
      assert.deepStrictEqual(server.requests.slice(2).map((r) => r.headers.authorization), ["rotated-3", "rotated-4"])
    }))
})

describe("Container: the document's Code", () => {
  it.scoped("not required (the endpoints send none), and accepted when it is Success", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("container", { _tag: "CodeField", present: false }, 1)
      server.fault("container", { _tag: "CodeField", present: true }, 1)
      const env = home.env(fullUri(server))
      const withoutCode = credentialsOf(yield* fetchOnce(env))
      const withCode = credentialsOf(yield* fetchOnce(env))
      assert.strictEqual(withoutCode.accessKeyId, server.served[0]!.AccessKeyId)
      assert.strictEqual(withCode.accessKeyId, server.served[1]!.AccessKeyId)
    }))
})

describe("Container: credentials with a different lifetime on each fetch", () => {
  it.scoped("the layer refreshes each set ahead of its own expiry (TestClock, 200 simulated minutes)", () =>
    Effect.gen(function*() {
      const t0 = Date.parse("2026-03-01T12:00:00Z")
      yield* TestClock.setTime(t0)
      const clock = yield* Effect.clock
      const minute = 60_000
      // 30, 120, 16, then 60 minutes (the last repeats): refreshes due at about +15, +121, +130 and +176.
      const lifetimes = [30, 120, 16, 60].map((m) => m * minute)
      const fetches: Array<RefreshWatch.Fetch> = []
      const server = yield* metadataServer({
        expiration: (n) => {
          const at = clock.unsafeCurrentTimeMillis()
          const expiration = isoSeconds(at + lifetimes[Math.min(n, lifetimes.length) - 1]!)
          fetches.push({ at, expiresAt: Date.parse(expiration) })
          return expiration
        }
      })
      const home = yield* tempHome
      const watch = RefreshWatch.make()
      const exit = yield* runWith(
        // The clock jumps while real requests run: keep the timeout out of reach.
        Container.layerWith({ ...fast, timeout: "1 day" }),
        { env: home.env(fullUri(server)) },
        Effect.flatMap(AwsCredentials, (service) => RefreshWatch.sampleEvery(service, watch, "1 minute", 200))
      ).pipe(Effect.withTracer(watch.tracer))
      const samples = getSuccess(exit)

      assert.strictEqual(server.counts.container, 5)
      assert.strictEqual(watch.started(), 4)
      // Lifetimes to the minute: the document's Expiration has whole seconds.
      assert.deepStrictEqual(
        fetches.map((fetch) => Math.round((fetch.expiresAt - fetch.at) / minute)),
        [30, 120, 16, 60, 60]
      )
      RefreshWatch.assertRefreshedAhead(fetches, samples, minute)
      assert.deepStrictEqual(
        [...new Set(samples.map((sample) => sample.accessKeyId))],
        server.served.map((document) => document.AccessKeyId)
      )
    }))
})

describe("Container: traces", () => {
  it.scoped("the HTTP span is under the source's span, without the Authorization header", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer({ containerToken: "span-secret-token" })
      const { spans, tracer } = recordingTracer()
      getSuccess(
        yield* resolveWith(Container.layerWith(fast), {
          env: home.env(fullUri(server, { AWS_CONTAINER_AUTHORIZATION_TOKEN: "span-secret-token" }))
        }).pipe(Effect.withTracer(tracer))
      )
      const http = spans.filter((span) => span.name.startsWith("http.client"))
      assert.deepStrictEqual(
        http.map((span) => [span.name, span.parent]),
        [["http.client GET", "AwsCredentials.container-role"]]
      )
      // The default transport records no headers at all.
      assert.isUndefined(http[0]!.attributes.get("http.request.header.authorization"))
      assertNoSecrets(server, renderSpans(spans), ["span-secret-token"])
    }))
})

describe("Container: not configured", () => {
  it.scoped("neither variable: unavailable, nothing is asked", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const error = getFailure(yield* resolveWith(Container.layer, { env: home.env() }))
      assert.strictEqual(error._tag, "CredentialsUnavailable")
      assert.include(error.message, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
      assert.include(error.message, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    }))

  it.effect("relative URI: http://169.254.170.2 + the path, checked without connecting", () =>
    Effect.gen(function*() {
      const endpoint = yield* ContainerFetcher.resolveEndpoint(settingsOf()).pipe(
        withEnv({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/credentials/abc?x=1" })
      )
      assert.deepStrictEqual(endpoint, {
        url: "http://169.254.170.2/v2/credentials/abc?x=1",
        from: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
      })
      const { client, requests } = recordingClient()
      const error = errorOf(
        yield* fetchOnce({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/credentials/abc" }, {
          httpClient: client,
          maxAttempts: 1
        })
      )
      assert.strictEqual(error.reason, "Unreachable")
      assert.deepStrictEqual(
        requests.map((r) => `${r.method} ${r.url}`),
        ["GET http://169.254.170.2/v2/credentials/abc"]
      )
    }))
})

describe("Container: broken", () => {
  const broken = (
    configure: (server: MetadataServer) => void,
    check: (error: CredentialsError, server: MetadataServer) => void,
    options: Container.Options = { ...fast, maxAttempts: 3 }
  ) =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer({ containerToken: "secret-auth-token" })
      configure(server)
      const [result, lines] = yield* withCapturedLogs(
        fetchOnce(home.env(fullUri(server, { AWS_CONTAINER_AUTHORIZATION_TOKEN: "secret-auth-token" })), options)
      )
      const error = errorOf(getSuccess(result))
      check(error, server)
      assertNoSecrets(server, printed(lines, error, error.cause), ["secret-auth-token"])
    })

  it.live("4xx: an error at once, no retry", () =>
    broken(
      (server) => server.fault("container", { _tag: "Status", status: 404, body: `{"code":"NotFound"}` }),
      (error, server) => {
        assert.strictEqual(error.reason, "ServiceError")
        assert.include(error.message, "HTTP 404 (NotFound)")
        assert.strictEqual(server.counts.container, 1)
      }
    ).pipe(Effect.scoped))

  it.live("a wrong token: 403, the message says which token to check, never the token", () =>
    broken((server) => server.configure({ containerToken: "another" }), (error) => {
      assert.strictEqual(error.reason, "ServiceError")
      assert.include(error.message, "HTTP 403")
      assert.include(error.message, "check the authorization token from AWS_CONTAINER_AUTHORIZATION_TOKEN")
    }).pipe(Effect.scoped))

  it.live("no token where one is needed: 401, the message says none was sent", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer({ containerToken: "needed" })
      const error = errorOf(yield* fetchOnce(home.env(fullUri(server))))
      assert.include(error.message, "HTTP 401")
      assert.include(error.message, "no authorization token was sent")
    }).pipe(Effect.scoped))

  it.live("5xx: retried, then an error after the attempts", () =>
    broken((server) => server.fault("container", { _tag: "Status", status: 503 }), (error, server) => {
      assert.strictEqual(error.reason, "ServiceError")
      assert.include(error.message, "HTTP 503 (after 3 attempts)")
      assert.strictEqual(server.counts.container, 3)
    }).pipe(Effect.scoped))

  it.live("5xx then success: retried transparently", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("container", { _tag: "Status", status: 500 }, 1)
      server.fault("container", { _tag: "Drop" }, 1)
      const credentials = credentialsOf(yield* fetchOnce(home.env(fullUri(server))))
      assert.strictEqual(credentials.accessKeyId, server.served[0]!.AccessKeyId)
      assert.strictEqual(server.counts.container, 3)
    }).pipe(Effect.scoped))

  it.live("malformed JSON: InvalidResponse, body not shown", () =>
    broken((server) => server.fault("container", { _tag: "Malformed" }), (error, server) => {
      assert.strictEqual(error.reason, "InvalidResponse")
      assert.include(error.message, "not valid JSON")
      assert.strictEqual(server.counts.container, 1)
    }).pipe(Effect.scoped))

  it.live("a Code other than Success: ServiceError", () =>
    broken(
      (server) => server.fault("container", { _tag: "Code", code: "InvalidIdentityToken", message: "bad" }),
      (error) => {
        assert.strictEqual(error.reason, "ServiceError")
        assert.include(error.message, "Code InvalidIdentityToken: bad")
      }
    ).pipe(Effect.scoped))

  it.live("expired credentials: Expired", () =>
    broken((server) => server.fault("container", { _tag: "Expired" }), (error) => {
      assert.strictEqual(error.reason, "Expired")
    }).pipe(Effect.scoped))

  it.live("nothing listening: Unreachable after the attempts", () =>
    Effect.gen(function*() {
      const refused = yield* refusedUrl
      const error = errorOf(
        yield* fetchOnce({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${refused}/credentials` }, { ...fast, maxAttempts: 2 })
      )
      assert.strictEqual(error.reason, "Unreachable")
      assert.include(error.message, "connection refused (ECONNREFUSED) (after 2 attempts)")
    }))

  it.scopedLive("no answer: Timeout after the attempts, each within the timeout", () =>
    Effect.gen(function*() {
      const silent = yield* silentServer
      const start = performance.now()
      const error = errorOf(
        yield* fetchOnce({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${silent.url}/credentials` }, {
          ...fast,
          timeout: "200 millis",
          maxAttempts: 2
        })
      )
      assert.strictEqual(error.reason, "Timeout")
      assert.include(error.message, "no response within 200ms (after 2 attempts)")
      assert.deepStrictEqual(silent.requests(), ["GET /credentials", "GET /credentials"])
      assert.isBelow(performance.now() - start, 3000)
    }))

  it.scoped("a token with CR or LF is refused and not shown, from the variable or the file", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      for (const env of [
        { AWS_CONTAINER_AUTHORIZATION_TOKEN: "secret-line\r\nX-Injected: 1" },
        { AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: home.write("token-file", "secret-file-token\n") }
      ]) {
        const error = errorOf(yield* fetchOnce(home.env(fullUri(server, env))))
        assert.strictEqual(error.reason, "InvalidConfiguration")
        assert.include(error.message, "carriage return or a line feed")
        assert.notInclude(error.message, "secret-")
      }
      assert.strictEqual(server.requests.length, 0)
    }))

  it.scoped("a token file that does not exist: FileUnreadable naming it", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      const missing = `${home.dir}/no-such-token`
      const env = home.env(fullUri(server, { AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: missing }))
      const error = errorOf(yield* fetchOnce(env))
      assert.strictEqual(error.reason, "FileUnreadable")
      assert.strictEqual(error.path, missing)
    }))
})

describe("Container: the host rule for AWS_CONTAINER_CREDENTIALS_FULL_URI", () => {
  const lookupTable = (table: Record<string, ReadonlyArray<string>>) => (host: string) =>
    host in table ? Effect.succeed(table[host]!) : Effect.fail(new Error(`ENOTFOUND ${host}`))
  const lookup = lookupTable({
    "sidecar.local": ["127.0.0.5"],
    "mixed.local": ["127.0.0.1", "10.0.0.7"],
    "example.com": ["93.184.216.34"]
  })
  const check = (uri: string) =>
    ContainerFetcher.validateFullUri(uri, settingsOf({ lookup })).pipe(Effect.either)

  it.effect("allowed: https anywhere; http to loopback, the ECS and EKS addresses, names resolving to loopback", () =>
    Effect.gen(function*() {
      for (
        const uri of [
          "https://credentials.example.com/creds",
          "https://10.0.0.1:8443/creds",
          "http://127.0.0.1:8080/creds",
          "http://127.200.3.4/creds",
          "http://[::1]:8080/creds",
          "http://169.254.170.2/v2/credentials",
          "http://169.254.170.23/v1/credentials",
          "http://[fd00:ec2::23]/v1/credentials",
          "http://[fd00:ec2:0:0:0:0:0:23]/v1/credentials",
          "http://sidecar.local:9000/creds"
        ]
      ) {
        const result = yield* check(uri)
        assert.isTrue(Either.isRight(result), `${uri}: ${Either.isLeft(result) ? result.left.message : ""}`)
      }
    }))

  it.effect("refused, with an error that names the rule", () =>
    Effect.gen(function*() {
      for (
        const [uri, text] of [
          ["http://10.0.0.1/creds", "is not allowed: over http only loopback addresses"],
          ["http://169.254.169.254/creds", "is not allowed"],
          ["http://[fd00:ec2::254]/creds", "is not allowed"],
          ["http://[::ffff:127.0.0.1]/creds", "is not allowed"],
          ["http://example.com/creds", "example.com resolves to 93.184.216.34, not only to loopback addresses"],
          ["http://mixed.local/creds", "not only to loopback addresses"],
          ["http://unknown.local/creds", "could not be resolved"],
          ["ftp://127.0.0.1/creds", "neither an http nor an https URL"],
          ["/credentials", "the URI did not specify a host"],
          ["http://exa mple.com/", "invalid uri character"],
          ["https://user:hunter2@creds.example.com/", "must not contain a user name or password"]
        ] as const
      ) {
        const result = yield* check(uri)
        assert.isTrue(Either.isLeft(result), uri)
        if (Either.isLeft(result)) {
          assert.notInclude(result.left.message, "hunter2")
          assert.strictEqual(result.left.reason, "InvalidConfiguration")
          assert.include(result.left.message, text)
          assert.include(result.left.message, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
        }
      }
    }))

  it.live("localhost is looked up with the system resolver and passes (loopback only)", () =>
    Effect.gen(function*() {
      const result = yield* ContainerFetcher.validateFullUri("http://localhost:1234/creds", settingsOf()).pipe(Effect.either)
      assert.deepStrictEqual(result, Either.right("http://localhost:1234/creds"))
    }))

  it.effect("the relative URI wins over the full URI", () =>
    Effect.gen(function*() {
      const endpoint = yield* ContainerFetcher.resolveEndpoint(settingsOf({ lookup })).pipe(
        withEnv({
          AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "creds",
          AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://10.0.0.1/creds"
        })
      )
      assert.strictEqual(endpoint.url, "http://169.254.170.2/creds")
    }))
})
