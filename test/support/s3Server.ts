/**
 * A loopback stand-in for the parts of S3 a unit test needs to control: each request is recorded
 * (method, path, query, headers, body, the access key and session token it was signed with) and
 * answered by a handler the test gives, with helpers for S3's answers (XML error documents with
 * S3's statuses and an `x-amz-request-id`, objects, `DeleteResult`s) and for faults (never
 * answering, stalling a body halfway). It is not an S3: the contract suite runs against moto and
 * Swift for that. Bound to 127.0.0.1 on a free port and closed with the test's scope; it tracks
 * its sockets, so that a test can see a client closing its connections.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type * as net from "node:net"

export interface RecordedRequest {
  readonly method: string
  /** The path as sent (still percent-encoded). */
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  /** The access key in the SigV4 `Authorization` header. */
  readonly accessKeyId: string | undefined
  readonly sessionToken: string | undefined
}

export type Handler = (request: RecordedRequest, response: http.ServerResponse) => void

export interface FakeS3 {
  readonly url: string
  readonly requests: Array<RecordedRequest>
  /** Replaces the handler. */
  readonly handle: (handler: Handler) => void
  /** Sockets currently open. */
  readonly openSockets: () => number
}

let requestCounter = 0

/** Answers with S3's XML error document. */
export const replyError = (response: http.ServerResponse, status: number, code: string, message: string): void => {
  const requestId = `FAKE${(++requestCounter).toString().padStart(12, "0")}`
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<RequestId>${requestId}</RequestId></Error>`
  response.writeHead(status, {
    "content-type": "application/xml",
    "content-length": Buffer.byteLength(body),
    "x-amz-request-id": requestId
  })
  response.end(body)
}

/** Answers 200 with headers and an optional body. */
export const replyOk = (
  response: http.ServerResponse,
  body: string | Buffer = "",
  headers: Record<string, string> = {}
): void => {
  response.writeHead(200, {
    "content-length": Buffer.byteLength(body),
    "x-amz-request-id": `FAKE${(++requestCounter).toString().padStart(12, "0")}`,
    ...headers
  })
  response.end(body)
}

/** A `ListAllMyBucketsResult` with these bucket names. */
export const listBucketsXml = (names: ReadonlyArray<string>): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult><Owner><ID>fake</ID></Owner><Buckets>${
    names.map((name) => `<Bucket><Name>${name}</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket>`).join("")
  }</Buckets></ListAllMyBucketsResult>`

/** The keys of a `DeleteObjects` request body. */
export const deleteKeys = (body: Buffer): Array<string> =>
  [...body.toString("utf8").matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!)

/** A `DeleteResult` that refuses `refused` keys with AccessDenied (quiet: only errors listed). */
export const deleteResultXml = (refused: ReadonlyArray<string>): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult>${
    refused.map((key) => `<Error><Key>${key}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`).join("")
  }</DeleteResult>`

const credentialOf = (authorization: string | undefined): string | undefined =>
  authorization === undefined ? undefined : /Credential=([^/]+)\//.exec(authorization)?.[1]

/** Starts the fake for the scope. The default handler answers every request with an empty 200. */
export const fakeS3: Effect.Effect<FakeS3, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ server: http.Server; fake: FakeS3 }>((resume) => {
    const requests: Array<RecordedRequest> = []
    const sockets = new Set<net.Socket>()
    let handler: Handler = (_request, response) => replyOk(response)
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://fake")
        const recorded: RecordedRequest = {
          method: req.method ?? "GET",
          path: (req.url ?? "/").split("?")[0]!,
          query: url.searchParams,
          headers: req.headers,
          body: Buffer.concat(chunks),
          accessKeyId: credentialOf(req.headers.authorization),
          sessionToken: typeof req.headers["x-amz-security-token"] === "string" ? req.headers["x-amz-security-token"] : undefined
        }
        requests.push(recorded)
        handler(recorded, res)
      })
    })
    server.on("connection", (socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({
        server,
        fake: {
          url: `http://127.0.0.1:${port}`,
          requests,
          handle: (next) => {
            handler = next
          },
          openSockets: () => sockets.size
        }
      }))
    })
    // Keep sockets from holding the close.
    server.on("close", () => {
      for (const socket of sockets) socket.destroy()
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ fake }) => fake))
