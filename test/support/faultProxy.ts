/**
 * A fault-injecting HTTP proxy on 127.0.0.1, in front of one of the loopback fakes (metadata
 * service, container endpoint, STS, SSO portal, SSO-OIDC, sign-in): requests go through to the
 * fake unless a queued fault takes them. One set of faults for every remote source, so that the
 * fault matrix means the same thing for each:
 *
 * - `Status`: answer this status (and body, and content type) instead;
 * - `Slow`: wait before the first byte, then forward;
 * - `Drip`: forward, the body one byte every `everyMs`;
 * - `Huge`: answer 200 with a body of `bytes` bytes;
 * - `Drop`: close the connection without an answer;
 * - `Truncate`: forward, the body cut in half;
 * - `WrongType`: forward, with `content-type: text/html`;
 * - `EchoToken`: answer 400 with a body that quotes every request header and the request body
 *   (tokens, authorization, DPoP proofs, refresh tokens) back;
 * - `Expired`: forward, every timestamp in the body moved to an hour ago.
 *
 * The client's `Host` header is passed through, as a reverse proxy does (the sign-in fake checks
 * DPoP proofs against the URL the client used). Closed with the test's scope.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type * as net from "node:net"

export type Fault =
  | { readonly _tag: "Status"; readonly status: number; readonly body?: string; readonly contentType?: string }
  | { readonly _tag: "Slow"; readonly ms: number }
  | { readonly _tag: "Drip"; readonly everyMs: number }
  | { readonly _tag: "Huge"; readonly bytes: number }
  | { readonly _tag: "Drop" }
  | { readonly _tag: "Truncate" }
  | { readonly _tag: "WrongType" }
  | { readonly _tag: "EchoToken" }
  | { readonly _tag: "Expired" }

export interface FaultProxy {
  readonly url: string
  /** Queues `fault` for the next `times` requests (default: every request). */
  readonly inject: (fault: Fault, times?: number) => void
  readonly clear: () => void
  /** Requests seen, faulted ones included. */
  readonly requests: () => number
}

const hourAgoIso = () => new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z")

/** Every ISO timestamp and every epoch-milliseconds or epoch-seconds expiration in `body`, an hour ago. */
const expire = (body: string): string =>
  body
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})/g, hourAgoIso())
    .replace(/("expiration"\s*:\s*)(\d{13})/gi, (_, head: string) => `${head}${Date.now() - 3_600_000}`)
    .replace(/("expiration"\s*:\s*)(\d{10})(?!\d)/gi, (_, head: string) => `${head}${Math.floor(Date.now() / 1000) - 3600}`)

export const make = (target: string): Effect.Effect<FaultProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ proxy: FaultProxy; close: () => Promise<void> }>((resume) => {
      const queue: Array<{ fault: Fault; remaining: number }> = []
      const sockets = new Set<net.Socket>()
      const timers = new Set<NodeJS.Timeout>()
      let count = 0
      const later = (ms: number, run: () => void) => {
        const timer = setTimeout(() => {
          timers.delete(timer)
          run()
        }, ms)
        timers.add(timer)
      }
      const take = (): Fault | undefined => {
        const found = queue.find((entry) => entry.remaining > 0)
        if (found === undefined) return undefined
        found.remaining--
        return found.fault
      }
      const forward = (
        req: http.IncomingMessage,
        body: Buffer,
        done: (status: number, headers: http.IncomingHttpHeaders, answer: Buffer) => void
      ) => {
        const url = new URL(req.url ?? "/", target)
        const outgoing = http.request(url, { method: req.method, headers: req.headers, agent: false }, (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (chunk: Buffer) => chunks.push(chunk))
          res.on("end", () => done(res.statusCode ?? 502, res.headers, Buffer.concat(chunks)))
        })
        outgoing.on("error", () => done(502, {}, Buffer.from("proxy: target failed")))
        outgoing.end(body)
      }
      const server = http.createServer((req, res) => {
        count++
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const body = Buffer.concat(chunks)
          const fault = take()
          const headersOut = (headers: http.IncomingHttpHeaders, length: number) => {
            const out: Record<string, string | Array<string>> = {}
            for (const [name, value] of Object.entries(headers)) {
              if (value !== undefined && !["content-length", "transfer-encoding", "connection"].includes(name)) out[name] = value
            }
            out["content-length"] = String(length)
            return out
          }
          const relay = (status: number, headers: http.IncomingHttpHeaders, answer: Buffer) => {
            res.writeHead(status, headersOut(headers, answer.length))
            res.end(answer)
          }
          switch (fault?._tag) {
            case undefined:
              return forward(req, body, relay)
            case "Status": {
              const answer = Buffer.from(fault.body ?? JSON.stringify({ message: `injected ${fault.status}` }))
              res.writeHead(fault.status, { "content-type": fault.contentType ?? "application/json", "content-length": answer.length })
              return res.end(answer)
            }
            case "Slow":
              return later(fault.ms, () => forward(req, body, relay))
            case "Drip":
              return forward(req, body, (status, headers, answer) => {
                res.writeHead(status, headersOut(headers, answer.length))
                let at = 0
                const next = () => {
                  if (res.destroyed) return
                  if (at >= answer.length) return void res.end()
                  res.write(answer.subarray(at, at + 1))
                  at++
                  later(fault.everyMs, next)
                }
                next()
              })
            case "Huge": {
              res.writeHead(200, { "content-type": "application/json", "content-length": fault.bytes })
              const block = Buffer.alloc(64 * 1024, "x")
              let left = fault.bytes
              const pump = () => {
                while (left > 0) {
                  const piece = block.subarray(0, Math.min(block.length, left))
                  left -= piece.length
                  if (!res.write(piece)) return void res.once("drain", pump)
                }
                res.end()
              }
              res.on("error", () => {})
              return pump()
            }
            case "Drop":
              return req.socket.destroy()
            case "Truncate":
              return forward(req, body, (status, headers, answer) => {
                const half = answer.subarray(0, Math.floor(answer.length / 2))
                relay(status, headers, half)
              })
            case "WrongType":
              return forward(req, body, (status, headers, answer) => relay(status, { ...headers, "content-type": "text/html" }, answer))
            case "EchoToken": {
              const answer = Buffer.from(JSON.stringify({
                __type: "InvalidRequestException",
                message: `bad request; you sent ${JSON.stringify(req.headers)} and ${body.toString("utf8")}`,
                Message: `headers ${JSON.stringify(req.headers)}`
              }))
              res.writeHead(400, { "content-type": "application/json", "x-amzn-errortype": "InvalidRequestException", "content-length": answer.length })
              return res.end(answer)
            }
            case "Expired":
              return forward(req, body, (status, headers, answer) => relay(status, headers, Buffer.from(expire(answer.toString("utf8")))))
          }
        })
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo
        resume(Effect.succeed({
          proxy: {
            url: `http://127.0.0.1:${port}`,
            inject: (fault, times = Number.POSITIVE_INFINITY) => queue.push({ fault, remaining: times }),
            clear: () => {
              queue.length = 0
            },
            requests: () => count
          },
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
  ).pipe(Effect.map(({ proxy }) => proxy))
