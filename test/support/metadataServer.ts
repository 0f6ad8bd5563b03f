/**
 * A loopback server that speaks the EC2 instance metadata service (IMDSv2 with its session
 * token, and IMDSv1 when allowed) and the ECS / EKS Pod Identity container credentials endpoint,
 * the way the real ones answer, with fault injection and request counters. Bound to 127.0.0.1 on
 * a free port and closed with the test's scope.
 *
 * IMDS as modelled here:
 * - `PUT /latest/api/token` needs `x-aws-ec2-metadata-token-ttl-seconds` (1-21600, else 400) and no
 *   `x-forwarded-for` (else 403); answers a token and echoes the TTL header. Other methods: 405.
 * - `GET /latest/meta-data/...` with `x-aws-ec2-metadata-token`: 401 unless the token is one this
 *   server issued and has not expired or been revoked. Without it: served when IMDSv1 is allowed,
 *   else 401.
 * - `.../iam/security-credentials/` lists the role (404 without one), `.../security-credentials/ROLE`
 *   returns `{"Code": "Success", "AccessKeyId", "SecretAccessKey", "Token", "Expiration", ...}`,
 *   `/latest/meta-data/placement/region` the region.
 * The container endpoint answers `GET <containerPath>` with the credentials document, checking the
 * `Authorization` header against `containerToken` when one is set (missing: 401, wrong: 403).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type * as Credentials from "../../src/Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../../src/CredentialsError.js"
import type { LogLine } from "./fixtures.js"
import * as crypto from "node:crypto"
import * as http from "node:http"
import * as net from "node:net"

/** What the server counts requests by. */
export type Route = "token" | "roleList" | "roleCredentials" | "region" | "metadata" | "container" | "other"

/** A fault, injected into the next requests of a route. */
export type Fault =
  /** Answer with this status (and body) instead. */
  | { readonly _tag: "Status"; readonly status: number; readonly body?: string | undefined }
  /** Answer normally, after a delay. */
  | { readonly _tag: "Slow"; readonly delayMs: number }
  /** Close the connection without answering. */
  | { readonly _tag: "Drop" }
  /** Accept the request and never answer. */
  | { readonly _tag: "Hang" }
  /** Answer 200 with a body that is not JSON. */
  | { readonly _tag: "Malformed" }
  /** Answer credentials whose `Expiration` has passed (an hour ago by the server's clock). */
  | { readonly _tag: "Expired" }
  /** Answer a document with this `Code` (and `Message`) instead of credentials. */
  | { readonly _tag: "Code"; readonly code: string; readonly message?: string | undefined }
  /**
   * Answer credentials with (`present: true`) or without a `Code: "Success"` field, whatever the
   * endpoint normally sends (IMDS always sends one, the container endpoint never does).
   */
  | { readonly _tag: "CodeField"; readonly present: boolean }

/** The credentials document fields. */
export interface RoleCredentials {
  readonly AccessKeyId: string
  readonly SecretAccessKey: string
  readonly Token: string
  readonly Expiration: string
  readonly AccountId?: string | undefined
}

export interface ServerOptions {
  /** Whether GETs without a token are served (IMDSv1). Default true. */
  readonly v1Allowed?: boolean | undefined
  /** The attached role; `undefined` for none (404). Default `test-role`. */
  readonly role?: string | undefined
  readonly region?: string | undefined
  /** The container endpoint's path. Default `/credentials`. */
  readonly containerPath?: string | undefined
  /** When set, the container endpoint requires this `Authorization` value. */
  readonly containerToken?: string | undefined
  /**
   * The `Expiration` of the `n`th credentials served (1-based), as an ISO string. Default: six
   * hours after the server's clock. Set it to follow a test's `TestClock`.
   */
  readonly expiration?: ((n: number) => string) | undefined
  /**
   * The `AccessKeyId` of the `n`th credentials served (1-based) by IMDS or the container
   * endpoint. Default `ASIAMETADATA0000000n`. A constant makes several clients (botocore and us,
   * say) see the same key.
   */
  readonly accessKeyId?: ((n: number, endpoint: "imds" | "container") => string) | undefined
}

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string | Array<string> | undefined>>
  readonly route: Route
}

export interface MetadataServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  /** Requests per route (faulted ones included). */
  readonly counts: Record<Route, number>
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Every credentials document served, so that tests can look for their secrets in output. */
  readonly served: ReadonlyArray<RoleCredentials>
  /** Every IMDSv2 token issued, in order (revoked ones included). */
  readonly tokens: ReadonlyArray<string>
  /** Injects `fault` into the next `times` requests of `route` (default: all of them). */
  readonly fault: (route: Route | "any", fault: Fault, times?: number) => void
  readonly clearFaults: () => void
  /** Changes options for the requests to come. */
  readonly configure: (options: ServerOptions) => void
  /** Makes every token issued so far invalid (their next use gets 401). */
  readonly revokeTokens: () => void
  readonly resetCounts: () => void
}

const routeOf = (path: string, containerPath: string): Route => {
  if (path === "/latest/api/token") return "token"
  if (path === containerPath) return "container"
  if (path === "/latest/meta-data/iam/security-credentials/" || path === "/latest/meta-data/iam/security-credentials") {
    return "roleList"
  }
  if (path.startsWith("/latest/meta-data/iam/security-credentials/")) return "roleCredentials"
  if (path === "/latest/meta-data/placement/region") return "region"
  if (path.startsWith("/latest/meta-data")) return "metadata"
  return "other"
}

/** `2026-11-29T10:00:00Z`, the format IMDS uses. */
export const isoSeconds = (millis: number): string => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")

const randomText = (bytes: number) => crypto.randomBytes(bytes).toString("base64url")

/** Starts the server; it is closed (connections included) when the scope closes. */
export const metadataServer = (
  initial: ServerOptions = {}
): Effect.Effect<MetadataServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: MetadataServer; readonly close: () => Promise<void> }>((resume) => {
      // `role: undefined` given explicitly means "no role", so it is not defaulted away.
      let options: Required<Pick<ServerOptions, "v1Allowed" | "containerPath">> & ServerOptions = {
        v1Allowed: true,
        region: "eu-west-3",
        containerPath: "/credentials",
        ...initial,
        role: "role" in initial ? initial.role : "test-role"
      }
      const counts: Record<Route, number> = {
        token: 0,
        roleList: 0,
        roleCredentials: 0,
        region: 0,
        metadata: 0,
        container: 0,
        other: 0
      }
      const requests: Array<RecordedRequest> = []
      const served: Array<RoleCredentials> = []
      const tokens = new Map<string, number>()
      const issuedTokens: Array<string> = []
      const faults: Array<{ route: Route | "any"; fault: Fault; remaining: number }> = []
      const sockets = new Set<net.Socket>()
      const timers = new Set<NodeJS.Timeout>()
      let issuedCredentials = 0

      const nextFault = (route: Route): Fault | undefined => {
        const found = faults.find((f) => f.remaining > 0 && (f.route === route || f.route === "any"))
        if (found === undefined) return undefined
        found.remaining--
        return found.fault
      }

      const credentials = (expired: boolean, imds: boolean): RoleCredentials => {
        issuedCredentials++
        const n = issuedCredentials
        const doc: RoleCredentials = {
          AccessKeyId: options.accessKeyId?.(n, imds ? "imds" : "container") ?? `ASIAMETADATA${String(n).padStart(8, "0")}`,
          SecretAccessKey: `secret-${randomText(24)}`,
          Token: `token-${randomText(48)}`,
          Expiration: expired
            ? isoSeconds(Date.now() - 3_600_000)
            : options.expiration?.(n) ?? isoSeconds(Date.now() + 6 * 3_600_000),
          AccountId: "123456789012"
        }
        served.push(doc)
        return doc
      }

      const send = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "text/plain", ...headers, "content-length": Buffer.byteLength(body) })
        res.end(body)
      }

      const answerCredentials = (res: http.ServerResponse, fault: Fault | undefined, imds: boolean) => {
        if (fault?._tag === "Malformed") return send(res, 200, `{"Code": "Success", "AccessKeyId": `)
        if (fault?._tag === "Code") {
          return send(res, 200, JSON.stringify({ Code: fault.code, Message: fault.message ?? "failure injected" }))
        }
        const doc = credentials(fault?._tag === "Expired", imds)
        const withCode = fault?._tag === "CodeField" ? fault.present : imds
        const body = imds
          ? {
            ...(withCode ? { Code: "Success" } : {}),
            LastUpdated: isoSeconds(Date.now()),
            Type: "AWS-HMAC",
            AccessKeyId: doc.AccessKeyId,
            SecretAccessKey: doc.SecretAccessKey,
            Token: doc.Token,
            Expiration: doc.Expiration,
            AccountId: doc.AccountId
          }
          : {
            ...(withCode ? { Code: "Success" } : {}),
            ...doc,
            RoleArn: "arn:aws:iam::123456789012:role/test-role"
          }
        return send(res, 200, JSON.stringify(body), { "content-type": "application/json" })
      }

      const handle = (req: http.IncomingMessage, res: http.ServerResponse, route: Route, fault: Fault | undefined) => {
        const method = req.method ?? "GET"
        const path = new URL(req.url ?? "/", "http://localhost").pathname
        if (fault?._tag === "Status") return send(res, fault.status, fault.body ?? "")

        if (route === "container") {
          if (method !== "GET") return send(res, 405, "")
          if (options.containerToken !== undefined) {
            const given = req.headers.authorization
            if (given === undefined) return send(res, 401, JSON.stringify({ code: "Unauthorized", message: "missing" }))
            if (given !== options.containerToken) {
              return send(res, 403, JSON.stringify({ code: "AccessDenied", message: "token does not match" }))
            }
          }
          return answerCredentials(res, fault, false)
        }

        if (route === "token") {
          if (method !== "PUT") return send(res, 405, "")
          if (req.headers["x-forwarded-for"] !== undefined) return send(res, 403, "")
          const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"])
          if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return send(res, 400, "")
          const token = `AQAEA${randomText(40)}`
          tokens.set(token, Date.now() + ttl * 1000)
          issuedTokens.push(token)
          return send(res, 200, token, { "x-aws-ec2-metadata-token-ttl-seconds": String(ttl) })
        }

        if (!path.startsWith("/latest/meta-data")) return send(res, 404, "")
        if (method !== "GET") return send(res, 405, "")
        const token = req.headers["x-aws-ec2-metadata-token"]
        if (typeof token === "string") {
          const expiresAt = tokens.get(token)
          if (expiresAt === undefined || expiresAt <= Date.now()) return send(res, 401, "")
        } else if (!options.v1Allowed) {
          return send(res, 401, "")
        }

        switch (route) {
          case "roleList":
            return options.role === undefined ? send(res, 404, notFound) : send(res, 200, options.role)
          case "roleCredentials": {
            const role = decodeURIComponent(path.slice("/latest/meta-data/iam/security-credentials/".length))
            if (options.role === undefined || role !== options.role) return send(res, 404, notFound)
            return answerCredentials(res, fault, true)
          }
          case "region":
            return options.region === undefined ? send(res, 404, notFound) : send(res, 200, options.region)
          default:
            return send(res, 200, "ami-id\nhostname\niam/\nplacement/\n")
        }
      }

      const server = http.createServer((req, res) => {
        const method = req.method ?? "GET"
        const path = new URL(req.url ?? "/", "http://localhost").pathname
        const route = routeOf(path, options.containerPath ?? "/credentials")
        counts[route]++
        requests.push({ method, path, headers: { ...req.headers }, route })
        const fault = nextFault(route)
        if (fault?._tag === "Hang") return
        if (fault?._tag === "Drop") {
          req.socket.destroy()
          return
        }
        if (fault?._tag === "Slow") {
          const timer = setTimeout(() => {
            timers.delete(timer)
            handle(req, res, route, undefined)
          }, fault.delayMs)
          timers.add(timer)
          return
        }
        handle(req, res, route, fault)
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as net.AddressInfo
        const api: MetadataServer = {
          url: `http://127.0.0.1:${address.port}`,
          port: address.port,
          counts,
          requests,
          served,
          tokens: issuedTokens,
          fault: (route, fault, times = Number.POSITIVE_INFINITY) => {
            faults.push({ route, fault, remaining: times })
          },
          clearFaults: () => {
            faults.length = 0
          },
          configure: (next) => {
            options = { ...options, ...next }
          },
          revokeTokens: () => {
            tokens.clear()
          },
          resetCounts: () => {
            for (const key of Object.keys(counts) as Array<Route>) counts[key] = 0
            requests.length = 0
          }
        }
        resume(Effect.succeed({
          server: api,
          close: () =>
            new Promise<void>((done) => {
              for (const timer of timers) clearTimeout(timer)
              for (const socket of sockets) socket.destroy()
              server.close(() => done())
            })
        }))
      })
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ server }) => server))

const notFound = `<?xml version="1.0" encoding="iso-8859-1"?>\n<title>404 - Not Found</title>\n`

/**
 * A TCP server that accepts connections, reads requests and never answers (what a hung metadata
 * service looks like to a client). Counts the request lines it received (`PUT /latest/api/token
 * HTTP/1.1`, ...); connections are not a measure, since `fetch` opens spare ones.
 */
export const silentServer: Effect.Effect<
  { readonly url: string; readonly requests: () => ReadonlyArray<string> },
  never,
  Scope.Scope
> = Effect.acquireRelease(
  Effect.async<{ url: string; requests: () => ReadonlyArray<string>; close: () => Promise<void> }>((resume) => {
    const sockets = new Set<net.Socket>()
    const requests: Array<string> = []
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      socket.on("data", (data) => {
        for (const line of data.toString("latin1").split("\r\n")) {
          if (/^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(line)) requests.push(line.replace(/ HTTP\/1\.[01]$/, ""))
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      resume(Effect.succeed({
        url: `http://127.0.0.1:${port}`,
        requests: () => [...requests],
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      }))
    })
  }),
  ({ close }) => Effect.promise(close)
).pipe(Effect.map(({ requests, url }) => ({ url, requests })))

/** A loopback URL where nothing listens (the port was bound, then released): connections are refused. */
export const refusedUrl: Effect.Effect<string> = Effect.async<string>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo
    server.close(() => resume(Effect.succeed(`http://127.0.0.1:${port}`)))
  })
})

/**
 * An HTTP client that records the requests it is given and sends none (each fails as a refused
 * connection), for checking what a source would ask of hosts that tests must not contact.
 */
export const recordingClient = (): {
  readonly client: HttpClient.HttpClient
  readonly requests: ReadonlyArray<
    { readonly method: string; readonly url: string; readonly headers: Readonly<Record<string, string>> }
  >
} => {
  const requests: Array<{ readonly method: string; readonly url: string; readonly headers: Record<string, string> }> =
    []
  const client = HttpClient.make((request, url) => {
    requests.push({ method: request.method, url: url.href, headers: { ...request.headers } })
    return Effect.fail(
      new HttpClientError.RequestError({
        request,
        reason: "Transport",
        cause: Object.assign(new Error("recorded, not sent"), { code: "ECONNREFUSED" })
      })
    )
  })
  return { client, requests }
}

/** Every secret the server handed out: secret keys, session tokens, IMDSv2 tokens. */
export const servedSecrets = (server: MetadataServer): ReadonlyArray<string> => [
  ...server.served.flatMap((doc) => [doc.SecretAccessKey, doc.Token]),
  ...server.tokens
]

/** What a test printed (log lines with their annotations) and the values given, as one text to search. */
export const printed = (lines: ReadonlyArray<LogLine>, ...values: ReadonlyArray<unknown>): string =>
  [
    ...lines.map((line) => `${line.rendered} ${JSON.stringify(line.annotations)}`),
    ...values.map((value) => `${String(value)} ${JSON.stringify(value)} ${value instanceof Error ? value.message : ""}`)
  ].join("\n")

type Outcome = Either.Either<Credentials.Credentials, CredentialsUnavailable | CredentialsError>

/** The credentials of a source's outcome, or a test failure naming the error. */
export const credentialsOf = (outcome: Outcome): Credentials.Credentials => {
  if (Either.isRight(outcome)) return outcome.right
  throw new Error(`expected credentials, got ${outcome.left._tag}: ${outcome.left.message}`)
}

/** The failure of a source's outcome, or a test failure. */
export const failureOf = (outcome: Outcome): CredentialsUnavailable | CredentialsError => {
  if (Either.isLeft(outcome)) return outcome.left
  throw new Error(`expected a failure, got credentials ${outcome.right.accessKeyId}`)
}
