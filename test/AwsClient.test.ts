/**
 * `AwsClient.make` and `send` against loopback servers that record what reaches them: the
 * endpoint from a named profile's `[services]` section and from `AWS_ENDPOINT_URL_<SERVICE>`
 * (and none under `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`), the region in the signature's scope,
 * the attempts against a server answering 500 (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`, botocore's
 * legacy default), a CA bundle against a TLS server with a self-signed certificate, the retry
 * after `ExpiredTokenException` with invalidated credentials, refusals that name the signing
 * credentials, the span, and no secret anywhere.
 */
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb"
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import * as path from "node:path"
import * as AwsClient from "../src/AwsClient.js"
import * as AwsCredentials from "../src/AwsCredentials.js"
import * as AwsRegion from "../src/AwsRegion.js"
import * as AwsSession from "../src/AwsSession.js"
import * as Credentials from "../src/Credentials.js"
import { type Env, getFailure, getSuccess, platformLayer, type TempHome, tempHome, withEnv } from "./support/fixtures.js"
import { assertNoSecrets } from "./support/secrets.js"
import { recordingTracer } from "./support/spans.js"

interface Seen {
  readonly url: string
  readonly target: string | undefined
  readonly authorization: string
  readonly host: string | undefined
}

type Answer = (seen: Seen, index: number) => { readonly status: number; readonly body: unknown; readonly headers?: Record<string, string> }

const ok: Answer = () => ({ status: 200, body: { TableNames: [], QueueUrls: [] } })

/** A JSON-protocol server on 127.0.0.1 (HTTPS with `tls`), recording every request. */
const server = (answer: Answer = ok, tls?: { readonly key: string; readonly cert: string }) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly seen: Array<Seen>; readonly close: http.Server }>((resume) => {
      const seen: Array<Seen> = []
      const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
        request.resume()
        request.on("end", () => {
          const entry: Seen = {
            url: request.url ?? "",
            target: request.headers["x-amz-target"] as string | undefined,
            authorization: String(request.headers.authorization ?? ""),
            host: request.headers.host
          }
          seen.push(entry)
          const { body, headers, status } = answer(entry, seen.length)
          response.writeHead(status, {
            "content-type": "application/x-amz-json-1.0",
            "x-amzn-requestid": `req-${seen.length}`,
            ...headers
          })
          response.end(JSON.stringify(body))
        })
      }
      const created = tls === undefined ? http.createServer(handler) : https.createServer(tls, handler)
      created.listen(0, "127.0.0.1", () => {
        const address = created.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ url: `${tls === undefined ? "http" : "https"}://127.0.0.1:${port}`, seen, close: created }))
      })
    }),
    ({ close }) =>
      Effect.async<void>((resume) => {
        close.closeAllConnections()
        close.close(() => resume(Effect.void))
      })
  )

const secret = "client-test-secret-never-printed-0123456789"
const keys = AwsCredentials.layerStatic({ accessKeyId: "AKIACLIENTTEST000001", secretAccessKey: secret })

/** Runs `use` on a session (profile `profile` when given) under `env`, with `credentials` and the session's region. */
const run = <A, E>(
  env: Env,
  use: Effect.Effect<A, E, AwsCredentials.AwsCredentials | AwsRegion.AwsRegion | Scope.Scope>,
  options: { readonly profile?: string; readonly credentials?: Layer.Layer<AwsCredentials.AwsCredentials> } = {}
) =>
  Effect.scoped(use).pipe(
    Effect.provide(
      Layer.mergeAll(options.credentials ?? keys, AwsRegion.layer).pipe(
        Layer.provideMerge(AwsSession.layer(options.profile === undefined ? {} : { profile: options.profile })),
        Layer.provide(platformLayer)
      )
    ),
    withEnv({ AWS_EC2_METADATA_DISABLED: "true", AWS_REGION: "us-east-1", ...env }),
    Effect.exit
  )

const listTables = Effect.flatMap(AwsClient.make(DynamoDBClient), (dynamo) =>
  Effect.map(dynamo.send(new ListTablesCommand({})), () => dynamo))

/** The region of a SigV4 `Authorization` header's credential scope. */
const scopeRegion = (authorization: string): string | undefined =>
  /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization)?.[1]

const profileWithServices = (home: TempHome, url: string) =>
  home.writeConfig(
    `[profile dev]\nregion = eu-west-3\nservices = local\n[services local]\ndynamodb =\n  endpoint_url = ${url}\n`
  )

describe("AwsClient.make: where requests go", () => {
  it.scopedLive("the endpoint from the named profile's [services] section, its region in the signature scope", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const local = yield* server()
      profileWithServices(home, local.url)
      const dynamo = getSuccess(yield* run(home.env({ AWS_REGION: "" }), listTables, { profile: "dev" }))
      assert.deepStrictEqual(dynamo.endpoint, Option.some(local.url))
      assert.strictEqual(dynamo.region, "eu-west-3")
      assert.strictEqual(local.seen.length, 1)
      assert.strictEqual(local.seen[0]!.target, "DynamoDB_20120810.ListTables")
      assert.strictEqual(scopeRegion(local.seen[0]!.authorization), "eu-west-3")
      assert.include(local.seen[0]!.authorization, "/dynamodb/aws4_request")
    }))

  it.scopedLive("AWS_ENDPOINT_URL_DYNAMODB for DynamoDB only; SQS's own variable for SQS; the region option", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const dynamoServer = yield* server()
      const sqsServer = yield* server()
      const env = home.env({ AWS_ENDPOINT_URL_DYNAMODB: dynamoServer.url, AWS_ENDPOINT_URL_SQS: sqsServer.url })
      const exit = yield* run(
        env,
        Effect.gen(function*() {
          const dynamo = yield* AwsClient.make(DynamoDBClient)
          const sqs = yield* AwsClient.make(SQSClient, { region: "ap-south-1" })
          yield* dynamo.send(new ListTablesCommand({}))
          yield* AwsClient.send(sqs, new ListQueuesCommand({}))
          return [dynamo.service, sqs.service]
        })
      )
      assert.deepStrictEqual(getSuccess(exit), ["DynamoDB", "SQS"])
      assert.strictEqual(dynamoServer.seen.length, 1)
      assert.strictEqual(scopeRegion(dynamoServer.seen[0]!.authorization), "us-east-1")
      assert.strictEqual(sqsServer.seen.length, 1)
      assert.strictEqual(sqsServer.seen[0]!.target, "AmazonSQS.ListQueues")
      assert.strictEqual(scopeRegion(sqsServer.seen[0]!.authorization), "ap-south-1")
      assert.include(sqsServer.seen[0]!.authorization, "/sqs/aws4_request")
    }))

  it.scopedLive("AWS_ENDPOINT_URL_DYNAMODB wins over AWS_ENDPOINT_URL and [services]; the endpoint option over all", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const a = yield* server()
      const b = yield* server()
      const c = yield* server()
      profileWithServices(home, c.url)
      const env = home.env({ AWS_ENDPOINT_URL_DYNAMODB: a.url, AWS_ENDPOINT_URL: b.url })
      getSuccess(yield* run(env, listTables, { profile: "dev" }))
      assert.deepStrictEqual([a.seen.length, b.seen.length, c.seen.length], [1, 0, 0])
      getSuccess(yield* run(env, Effect.flatMap(AwsClient.make(DynamoDBClient, { endpoint: c.url }), (d) => d.send(new ListTablesCommand({})))))
      assert.deepStrictEqual([a.seen.length, b.seen.length, c.seen.length], [1, 0, 1])
    }))

  it.scopedLive("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: no configured endpoint at all", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const exit = yield* run(
        home.env({ AWS_ENDPOINT_URL: "http://127.0.0.1:1", AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" }),
        Effect.map(AwsClient.make(DynamoDBClient), (d) => d.endpoint)
      )
      assert.deepStrictEqual(getSuccess(exit), Option.none())
    }))

  it.scopedLive("an endpoint that is not an http(s) URL: InvalidConfiguration, nothing sent", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const error = getFailure(yield* run(home.env({ AWS_ENDPOINT_URL_DYNAMODB: "ftp://example" }), listTables))
      assert.strictEqual(error._tag, "AwsServiceError")
      if (error._tag !== "AwsServiceError") return
      assert.strictEqual(error.reason, "InvalidConfiguration")
      assert.strictEqual(error.operation, "Configure")
      assert.include(error.message, "AWS_ENDPOINT_URL_DYNAMODB")
    }))
})

describe("AwsClient: attempts", () => {
  const failing: Answer = () => ({
    status: 500,
    body: { __type: "com.amazonaws.dynamodb.v20120810#InternalServerError", message: "try again" }
  })

  const attemptsWith = (env: (home: TempHome) => Env, options: AwsClient.Options = {}) =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const local = yield* server(failing)
      const error = getFailure(
        yield* run(
          { ...env(home), AWS_ENDPOINT_URL: local.url },
          Effect.flatMap(AwsClient.make(DynamoDBClient, options), (d) => d.send(new ListTablesCommand({})))
        )
      )
      return { error, count: local.seen.length }
    })

  it.scopedLive("AWS_MAX_ATTEMPTS=2: two requests, then the 500 as a retryable ServiceError", () =>
    Effect.gen(function*() {
      const { count, error } = yield* attemptsWith((home) => home.env({ AWS_MAX_ATTEMPTS: "2" }))
      assert.strictEqual(count, 2)
      assert.strictEqual(error._tag, "AwsServiceError")
      if (error._tag !== "AwsServiceError") return
      assert.strictEqual(error.reason, "ServiceError")
      assert.strictEqual(error.code, "InternalServerError")
      assert.strictEqual(error.status, 500)
      assert.strictEqual(error.requestId, "req-2")
      assert.isTrue(error.retryable)
    }))

  it.scopedLive("max_attempts in the profile; the maxAttempts option over it", () =>
    Effect.gen(function*() {
      const fromProfile = yield* attemptsWith((home) => {
        home.writeConfig("[default]\nmax_attempts = 4\n")
        return home.env()
      })
      assert.strictEqual(fromProfile.count, 4)
      const fromOption = yield* attemptsWith((home) => home.env({ AWS_MAX_ATTEMPTS: "4" }), { maxAttempts: 1 })
      assert.strictEqual(fromOption.count, 1)
    }))

  it.scopedLive("AWS_RETRY_MODE=standard: 3 attempts; botocore's default (legacy): 5", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* attemptsWith((home) => home.env({ AWS_RETRY_MODE: "standard" }))).count, 3)
      assert.strictEqual((yield* attemptsWith((home) => home.env())).count, 5)
    }))

  it.scopedLive("an unknown retry mode or a bad max_attempts: InvalidConfiguration naming the setting", () =>
    Effect.gen(function*() {
      const mode = yield* attemptsWith((home) => home.env({ AWS_RETRY_MODE: "sometimes" }))
      assert.strictEqual(mode.count, 0)
      assert.include(mode.error.message, "AWS_RETRY_MODE is \"sometimes\"")
      const attempts = yield* attemptsWith((home) => home.env({ AWS_MAX_ATTEMPTS: "many" }))
      assert.strictEqual(attempts.count, 0)
      assert.include(attempts.error.message, "AWS_MAX_ATTEMPTS is \"many\"")
    }))

  it.scopedLive("a 400 answer is not retried", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const local = yield* server(() => ({
        status: 400,
        body: { __type: "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", message: "no table" }
      }))
      const error = getFailure(yield* run(home.env({ AWS_ENDPOINT_URL: local.url, AWS_MAX_ATTEMPTS: "3" }), listTables))
      assert.strictEqual(local.seen.length, 1)
      assert.strictEqual(error._tag === "AwsServiceError" ? error.code : undefined, "ResourceNotFoundException")
    }))
})

/** A self-signed certificate for 127.0.0.1, made with openssl in `dir`. */
const selfSigned = (dir: string) => {
  const key = path.join(dir, "key.pem")
  const cert = path.join(dir, "cert.pem")
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"
  ], { stdio: "ignore" })
  return { key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(cert, "utf8"), certPath: cert }
}

// openssl makes the certificate: .ci/run installs it when the image lacks it; without it these fail.
describe("AwsClient: CA bundle (openssl makes a self-signed certificate)", () => {
  it.scopedLive("AWS_CA_BUNDLE trusts the local TLS server; without it the request fails; ca_bundle in the profile too", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const tls = selfSigned(home.dir)
      const local = yield* server(ok, tls)
      const trusted = yield* run(home.env({ AWS_ENDPOINT_URL: local.url, AWS_CA_BUNDLE: tls.certPath }), listTables)
      getSuccess(trusted)
      assert.strictEqual(local.seen.length, 1)
      const untrusted = getFailure(yield* run(home.env({ AWS_ENDPOINT_URL: local.url, AWS_MAX_ATTEMPTS: "1" }), listTables))
      assert.strictEqual(untrusted._tag === "AwsServiceError" ? untrusted.reason : undefined, "Unreachable")
      assert.include(untrusted.message, "DEPTH_ZERO_SELF_SIGNED_CERT")
      assert.include(untrusted.message, "AWS_CA_BUNDLE")
      assert.strictEqual(local.seen.length, 1)
      home.writeConfig(`[default]\nca_bundle = ${tls.certPath}\n`)
      getSuccess(yield* run(home.env({ AWS_ENDPOINT_URL: local.url }), listTables))
      assert.strictEqual(local.seen.length, 2)
    }))

  it.scopedLive("a CA bundle that does not exist: InvalidConfiguration naming the setting and the path", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const missing = path.join(home.dir, "no-such-bundle.pem")
      const error = getFailure(yield* run(home.env({ AWS_ENDPOINT_URL: "http://127.0.0.1:1", AWS_CA_BUNDLE: missing }), listTables))
      assert.strictEqual(error._tag === "AwsServiceError" ? error.reason : undefined, "InvalidConfiguration")
      assert.include(error.message, `AWS_CA_BUNDLE names ${missing}, which does not exist`)
    }))
})

describe("AwsClient: credentials", () => {
  it.scopedLive("ExpiredTokenException: the credentials are invalidated and the call made once more, with the new ones", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const local = yield* server((_, index) =>
        index === 1
          ? { status: 400, body: { __type: "com.amazon.coral.service#ExpiredTokenException", message: "expired" } }
          : ok(_, index)
      )
      const first = Credentials.make({ accessKeyId: "ASIAFIRST00000000001", secretAccessKey: secret, sessionToken: "token-one-never-printed", source: "sso" })
      const second = Credentials.make({ accessKeyId: "ASIASECOND0000000002", secretAccessKey: secret, sessionToken: "token-two-never-printed", source: "sso" })
      let current = first
      let invalidations = 0
      const credentials = Layer.succeed(
        AwsCredentials.AwsCredentials,
        AwsCredentials.make({
          get: Effect.sync(() => current),
          invalidate: Effect.sync(() => {
            invalidations++
            current = second
          })
        })
      )
      getSuccess(yield* run(home.env({ AWS_ENDPOINT_URL: local.url, AWS_MAX_ATTEMPTS: "1" }), listTables, { credentials }))
      assert.strictEqual(invalidations, 1)
      assert.deepStrictEqual(local.seen.map((s) => /Credential=([^/]+)\//.exec(s.authorization)?.[1]), [
        "ASIAFIRST00000000001",
        "ASIASECOND0000000002"
      ])
    }))

  it.scopedLive("an unknown key: CredentialsRejected naming the key, its source and provenance; no secret", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const local = yield* server(() => ({
        status: 400,
        body: {
          __type: "com.amazon.coral.service#UnrecognizedClientException",
          message: `The security token included in the request is invalid ${secret}`
        }
      }))
      home.writeCredentials(`[dev]\naws_access_key_id = AKIAPROFILEKEY000009\naws_secret_access_key = ${secret}\n`)
      const { SharedCredentialsFile } = yield* Effect.promise(() => import("../src/index.js"))
      const exit = yield* listTables.pipe(
        Effect.scoped,
        Effect.provide(
          Layer.mergeAll(SharedCredentialsFile.layer, AwsRegion.layerStatic("us-east-1")).pipe(
            Layer.provideMerge(AwsSession.layer({ profile: "dev" })),
            Layer.provide(platformLayer)
          )
        ),
        withEnv(home.env({ AWS_ENDPOINT_URL: local.url, AWS_EC2_METADATA_DISABLED: "true" })),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = getFailure(exit)
      assert.strictEqual(error._tag, "AwsServiceError")
      if (error._tag !== "AwsServiceError") return
      assert.strictEqual(error.reason, "CredentialsRejected")
      assert.strictEqual(error.code, "UnrecognizedClientException")
      assert.strictEqual(error.signedWith?.source, "shared-credentials-file")
      assert.match(error.message, /^DynamoDB ListTables: CredentialsRejected \(HTTP 400, UnrecognizedClientException, request req-1\): AWS does not know access key AKIA\.\.\.0009, from /)
      assert.include(error.message, "profile dev")
      assert.isFalse(error.retryable)
      assertNoSecrets(error, [secret])
    }))

  it.scopedLive("AccessDeniedException: AccessDenied naming the identity's key", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const local = yield* server(() => ({
        status: 400,
        body: { __type: "com.amazon.coral.service#AccessDeniedException", message: "not allowed" }
      }))
      const error = getFailure(yield* run(home.env({ AWS_ENDPOINT_URL: local.url }), listTables))
      assert.strictEqual(error._tag === "AwsServiceError" ? error.reason : undefined, "AccessDenied")
      assert.include(error.message, "is not allowed to DynamoDB ListTables")
      assert.include(error.message, "AKIA...0001")
    }))
})

describe("AwsClient: the call", () => {
  it.scopedLive("a span named after the service and the operation, with no secret in its attributes", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const local = yield* server()
      const { spans, tracer } = recordingTracer()
      getSuccess(yield* run(home.env({ AWS_ENDPOINT_URL: local.url }), listTables).pipe(Effect.withTracer(tracer)))
      const span = spans.find((s) => s.name === "DynamoDB.ListTables")
      assert.isDefined(span)
      assert.strictEqual(span?.attributes.get("rpc.service"), "DynamoDB")
      assert.strictEqual(span?.attributes.get("rpc.method"), "ListTables")
      assert.strictEqual(span?.attributes.get("cloud.region"), "us-east-1")
      assertNoSecrets(spans, [secret])
    }))

  it.scopedLive("a server that refuses connections: Unreachable after the attempts", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const error = getFailure(yield* run(home.env({ AWS_ENDPOINT_URL: "http://127.0.0.1:1", AWS_MAX_ATTEMPTS: "2" }), listTables))
      assert.strictEqual(error._tag === "AwsServiceError" ? error.reason : undefined, "Unreachable")
      assert.include(error.message, "ECONNREFUSED")
    }))

  it.scopedLive("the client is destroyed when its scope closes", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const local = yield* server()
      let destroyed = 0
      class Counted extends DynamoDBClient {
        override destroy(): void {
          destroyed++
          super.destroy()
        }
      }
      getSuccess(yield* run(home.env({ AWS_ENDPOINT_URL: local.url }), Effect.flatMap(AwsClient.make(Counted), (d) => d.send(new ListTablesCommand({})))))
      // The probe that reads the service id, then the client itself.
      assert.strictEqual(destroyed, 2)
    }))
})
