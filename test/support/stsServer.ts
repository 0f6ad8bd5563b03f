/**
 * A loopback stand-in for AWS STS speaking its query protocol as the AWS SDK for JavaScript and
 * botocore send it: `POST /` with a form body (`Action=AssumeRole&Version=2011-06-15&...`),
 * answered with the `AssumeRoleResponse` / `AssumeRoleWithWebIdentityResponse` /
 * `GetCallerIdentityResponse` XML documents (the caller of an access key it issued is the assumed
 * role, any other signed caller an IAM user `fake`), and
 * errors as `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`
 * with STS's statuses (AccessDenied 403, ExpiredToken 400, Throttling 400, ...).
 *
 * Each request is recorded with what matters to a test: the action, the parameters, whether it
 * was signed and with which access key and region, and whether it carried a session token.
 * Faults are queued and consumed one per request: STS errors, 500, slow answers, dropped
 * connections, garbage. Bound to 127.0.0.1 on a free port and closed with the test's scope.
 *
 * `interceptor(server)` is an HTTP handler for the STS client that delivers requests addressed to
 * a real AWS endpoint to the server instead, recording where they were addressed.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export type Fault =
  /** An STS error document. */
  | { readonly _tag: "Error"; readonly status: number; readonly code: string; readonly message: string }
  /** Wait this long, then answer normally (the client may give up first). */
  | { readonly _tag: "Slow"; readonly ms: number }
  /** Destroy the connection without an answer. */
  | { readonly _tag: "Drop" }
  /** Answer 200 with something that is not XML. */
  | { readonly _tag: "Garbage" }
  /** Answer 200 with a well-formed document that has no Credentials. */
  | { readonly _tag: "NoCredentials" }

const error = (status: number, code: string, message: string): Fault => ({ _tag: "Error", status, code, message })

export const Fault = {
  accessDenied: error(
    403,
    "AccessDenied",
    "User: arn:aws:iam::123456789012:user/test is not authorized to perform: sts:AssumeRole"
  ),
  expiredToken: error(400, "ExpiredToken", "The security token included in the request is expired"),
  invalidIdentityToken: error(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider"),
  regionDisabled: error(403, "RegionDisabledException", "STS is not activated in this region for account:123456789012"),
  throttling: error(400, "Throttling", "Rate exceeded"),
  serverError: error(500, "InternalFailure", "An internal error occurred"),
  error,
  slow: (ms: number): Fault => ({ _tag: "Slow", ms }),
  drop: { _tag: "Drop" } as Fault,
  garbage: { _tag: "Garbage" } as Fault,
  noCredentials: { _tag: "NoCredentials" } as Fault
} as const

export interface RecordedRequest {
  readonly action: string
  readonly params: Readonly<Record<string, string>>
  /** The access key of the SigV4 `Authorization` header, or undefined for an unsigned request. */
  readonly accessKeyId: string | undefined
  /** The region of the signature's credential scope. */
  readonly signingRegion: string | undefined
  readonly sessionToken: string | undefined
  readonly headers: http.IncomingHttpHeaders
}

export interface Issued {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  readonly expiration: number
  readonly roleArn: string
}

export interface Options {
  /** Milliseconds since the epoch, for expirations. Default `Date.now`. */
  readonly now?: () => number
  /** Lifetime when the request has no DurationSeconds. Default 3600 s (STS's default). */
  readonly defaultDurationSeconds?: number
}

export interface StsServer {
  readonly url: string
  readonly requests: ReadonlyArray<RecordedRequest>
  readonly issued: ReadonlyArray<Issued>
  /** Queues faults; each request consumes one. */
  readonly inject: (...faults: ReadonlyArray<Fault>) => void
  /** Drops the faults not consumed yet (for a server shared by several tests). */
  readonly clearFaults: () => void
  /** Requests of one action. */
  readonly calls: (action: string) => ReadonlyArray<RecordedRequest>
}

const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

const accountOf = (roleArn: string): string => {
  const account = roleArn.split(":")[4]
  return account !== undefined && /^\d{12}$/.test(account) ? account : "123456789012"
}

const roleNameOf = (roleArn: string): string => roleArn.split("/").slice(1).join("/") || "role"

/** Starts the server for the scope. */
export const make = (options: Options = {}): Effect.Effect<StsServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; api: StsServer; timers: Set<NodeJS.Timeout> }>((resume) => {
      const now = options.now ?? (() => Date.now())
      const requests: Array<RecordedRequest> = []
      const issued: Array<Issued> = []
      const faults: Array<Fault> = []
      const timers = new Set<NodeJS.Timeout>()
      let counter = 0
      let port = 0

      const sendXml = (res: http.ServerResponse, status: number, body: string) => {
        res.statusCode = status
        res.setHeader("content-type", "text/xml")
        res.setHeader("x-amzn-requestid", crypto.randomUUID())
        res.end(body)
      }

      const sendError = (res: http.ServerResponse, status: number, code: string, message: string) =>
        sendXml(
          res,
          status,
          `<ErrorResponse xmlns="${namespace}"><Error><Type>${status >= 500 ? "Receiver" : "Sender"}</Type>` +
            `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
            `<RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`
        )

      const answerCallerIdentity = (res: http.ServerResponse, recorded: RecordedRequest) => {
        if (recorded.accessKeyId === undefined) {
          return sendError(res, 403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        }
        const role = issued.find((credentials) => credentials.accessKeyId === recorded.accessKeyId)
        const arn = role === undefined
          ? `arn:aws:iam::123456789012:user/fake`
          : `arn:aws:sts::${accountOf(role.roleArn)}:assumed-role/${roleNameOf(role.roleArn)}/session`
        sendXml(
          res,
          200,
          `<GetCallerIdentityResponse xmlns="${namespace}"><GetCallerIdentityResult>` +
            `<Arn>${escapeXml(arn)}</Arn><UserId>AIDAFAKE${escapeXml(recorded.accessKeyId.slice(-4))}</UserId>` +
            `<Account>${role === undefined ? "123456789012" : accountOf(role.roleArn)}</Account>` +
            `</GetCallerIdentityResult><ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId>` +
            `</ResponseMetadata></GetCallerIdentityResponse>`
        )
      }

      const answer = (res: http.ServerResponse, recorded: RecordedRequest, fault: Fault | undefined) => {
        if (fault?._tag === "Error") return sendError(res, fault.status, fault.code, fault.message)
        if (fault?._tag === "Garbage") {
          res.statusCode = 200
          res.setHeader("content-type", "text/xml")
          return res.end("<html><body>not sts</body>")
        }
        const { action, params } = recorded
        if (action === "GetCallerIdentity") return answerCallerIdentity(res, recorded)
        if (action !== "AssumeRole" && action !== "AssumeRoleWithWebIdentity") {
          return sendError(res, 400, "InvalidAction", `Could not find operation ${action} for version 2011-06-15`)
        }
        if (action === "AssumeRole" && recorded.accessKeyId === undefined) {
          return sendError(res, 403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        }
        const roleArn = params.RoleArn ?? ""
        const sessionName = params.RoleSessionName ?? ""
        if (roleArn === "" || sessionName === "") {
          return sendError(res, 400, "ValidationError", "RoleArn and RoleSessionName are required")
        }
        if (action === "AssumeRoleWithWebIdentity" && (params.WebIdentityToken ?? "") === "") {
          return sendError(res, 400, "ValidationError", "WebIdentityToken is required")
        }
        if (params.SerialNumber !== undefined && !/^\d{6}$/.test(params.TokenCode ?? "")) {
          return sendError(res, 403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
        }
        counter++
        const duration = Number(params.DurationSeconds ?? options.defaultDurationSeconds ?? 3600)
        const credentials: Issued = {
          accessKeyId: `ASIAFAKE${String(counter).padStart(12, "0")}`,
          secretAccessKey: `fake-secret-${counter}-${crypto.randomBytes(6).toString("hex")}`,
          sessionToken: `fake-token-${counter}-${crypto.randomBytes(12).toString("hex")}`,
          expiration: Math.floor(now() / 1000) * 1000 + duration * 1000,
          roleArn
        }
        issued.push(credentials)
        if (fault?._tag === "NoCredentials") {
          return sendXml(
            res,
            200,
            `<${action}Response xmlns="${namespace}"><${action}Result></${action}Result>` +
              `<ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata></${action}Response>`
          )
        }
        const account = accountOf(roleArn)
        const extra = action === "AssumeRoleWithWebIdentity"
          ? `<SubjectFromWebIdentityToken>system:serviceaccount:default:test</SubjectFromWebIdentityToken>` +
            `<Audience>sts.amazonaws.com</Audience><Provider>oidc.example.com</Provider>`
          : `<PackedPolicySize>6</PackedPolicySize>`
        sendXml(
          res,
          200,
          `<${action}Response xmlns="${namespace}"><${action}Result>` +
            `<Credentials><AccessKeyId>${credentials.accessKeyId}</AccessKeyId>` +
            `<SecretAccessKey>${escapeXml(credentials.secretAccessKey)}</SecretAccessKey>` +
            `<SessionToken>${escapeXml(credentials.sessionToken)}</SessionToken>` +
            `<Expiration>${new Date(credentials.expiration).toISOString()}</Expiration></Credentials>` +
            `<AssumedRoleUser><AssumedRoleId>AROAFAKE${counter}:${escapeXml(sessionName)}</AssumedRoleId>` +
            `<Arn>arn:aws:sts::${account}:assumed-role/${escapeXml(roleNameOf(roleArn))}/${
              escapeXml(sessionName)
            }</Arn></AssumedRoleUser>${extra}` +
            `</${action}Result><ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata>` +
            `</${action}Response>`
        )
      }

      const server = http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")))
          const authorization = req.headers.authorization
          const scope = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? "")
          const token = req.headers["x-amz-security-token"]
          const recorded: RecordedRequest = {
            action: params.Action ?? "",
            params,
            accessKeyId: scope?.[1],
            signingRegion: scope?.[2],
            sessionToken: typeof token === "string" ? token : undefined,
            headers: req.headers
          }
          requests.push(recorded)
          const fault = faults.shift()
          if (fault?._tag === "Drop") {
            req.socket.destroy()
            return
          }
          if (fault?._tag === "Slow") {
            const timer = setTimeout(() => {
              timers.delete(timer)
              if (!res.destroyed) answer(res, recorded, undefined)
            }, fault.ms)
            timers.add(timer)
            return
          }
          answer(res, recorded, fault)
        })
      })

      const api: StsServer = {
        get url() {
          return `http://127.0.0.1:${port}`
        },
        requests,
        issued,
        inject: (...more) => void faults.push(...more),
        clearFaults: () => {
          faults.length = 0
        },
        calls: (action) => requests.filter((request) => request.action === action)
      }
      server.listen(0, "127.0.0.1", () => {
        port = (server.address() as AddressInfo).port
        resume(Effect.succeed({ server, api, timers }))
      })
    }),
    ({ server, timers }) =>
      Effect.async<void>((resume) => {
        for (const timer of timers) clearTimeout(timer)
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ api }) => api))

/** The parts of an SDK HTTP request the interceptor reads (the SDK's `HttpRequest`). */
type SdkRequest = {
  readonly protocol: string
  readonly hostname: string
  readonly port?: number | undefined
  readonly method: string
  readonly path: string
  readonly query?: Readonly<Record<string, string | ReadonlyArray<string> | null>> | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly body?: unknown
}

/** What the SDK's HTTP handlers answer. */
type SdkResponse = {
  readonly response: {
    readonly statusCode: number
    readonly reason?: string | undefined
    readonly headers: Record<string, string>
    readonly body: http.IncomingMessage
  }
}

/** An SDK HTTP handler: what `Sts.RequestHandler` takes. */
export type SdkHandler = {
  readonly handle: (request: SdkRequest, options?: { readonly abortSignal?: AbortSignal }) => Promise<SdkResponse>
  readonly updateHttpClientConfig: () => void
  readonly httpHandlerConfigs: () => Record<string, never>
  readonly destroy: () => void
}

export interface Interceptor {
  /** Sends every request to the fake server, whatever host the client addressed. */
  readonly handler: SdkHandler
  /** Where the client addressed each request (`https://sts.amazonaws.com/`), in order. */
  readonly addressed: ReadonlyArray<string>
}

/**
 * An HTTP handler for the STS client (through `Sts.RequestHandler`) that records the URL each
 * request was addressed to and delivers it, signed as it is (Host header included), to `server`
 * on loopback. It lets a test check that a real AWS endpoint was chosen (the global
 * `https://sts.amazonaws.com`, a regional one) without contacting it.
 */
export const interceptor = (server: StsServer): Interceptor => {
  const addressed: Array<string> = []
  const handler: SdkHandler = {
    handle: (request, options) =>
      new Promise((resolve, reject) => {
        const query = new URLSearchParams()
        for (const [key, value] of Object.entries(request.query ?? {})) {
          for (const one of Array.isArray(value) ? value : value === null ? [] : [value]) query.append(key, one)
        }
        const search = query.size === 0 ? "" : `?${query.toString()}`
        addressed.push(
          `${request.protocol}//${request.hostname}${request.port === undefined ? "" : `:${request.port}`}${request.path}${search}`
        )
        const target = new URL(server.url)
        const outgoing = http.request({
          host: target.hostname,
          port: Number(target.port),
          method: request.method,
          path: `${request.path}${search}`,
          headers: request.headers,
          ...(options?.abortSignal === undefined ? {} : { signal: options.abortSignal })
        }, (res) => {
          const headers: Record<string, string> = {}
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
          }
          resolve({ response: { statusCode: res.statusCode ?? 0, reason: res.statusMessage, headers, body: res } })
        })
        outgoing.on("error", reject)
        const body = request.body
        outgoing.end(typeof body === "string" || body instanceof Uint8Array ? body : undefined)
      }),
    updateHttpClientConfig: () => {},
    httpHandlerConfigs: () => ({}),
    destroy: () => {}
  }
  return { handler, addressed }
}
