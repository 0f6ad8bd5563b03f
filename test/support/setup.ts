import * as net from "node:net"
import { afterEach } from "vitest"

/**
 * The network rule, enforced: no test may reach the instance metadata service, the container
 * credential endpoints or any AWS host. Every socket connect in the test process goes through
 * this guard, and the metadata service is switched off for code that honours the variable.
 */
const forbiddenHosts = new Set([
  "169.254.169.254",
  "169.254.170.2",
  "169.254.170.23",
  "fd00:ec2::254",
  "[fd00:ec2::254]",
  "fd00:ec2::23",
  "[fd00:ec2::23]"
])

export const isForbiddenHost = (host: string): boolean =>
  forbiddenHosts.has(host.toLowerCase()) || /(^|\.)amazonaws\.com(\.cn)?$/i.test(host) ||
  /(^|\.)aws\.amazon\.com$/i.test(host) || /(^|\.)api\.aws$/i.test(host)

process.env.AWS_EC2_METADATA_DISABLED = "true"

const guarded = Symbol.for("effect-aws-credentials/test/network-guard")
const proto = net.Socket.prototype as unknown as Record<string | symbol, unknown>
// Hosts a test tried to reach. The guard's exception may be caught by the code under test (a
// source that treats it as "unreachable"), so each test also fails afterwards if it tried.
const violationsKey = Symbol.for("effect-aws-credentials/test/network-violations")
const violations = ((globalThis as Record<symbol, unknown>)[violationsKey] ??= []) as Array<string>
afterEach(() => {
  if (violations.length === 0) return
  const hosts = [...new Set(violations.splice(0))]
  throw new Error(`network rule: this test tried to connect to ${hosts.join(", ")}`)
})
if (proto[guarded] === undefined) {
  const original = net.Socket.prototype.connect
  proto[guarded] = true
  net.Socket.prototype.connect = function(this: net.Socket, ...args: Array<unknown>) {
    // `net.connect(...)` (what undici, and so `fetch`, uses) hands `connect` its arguments
    // already normalized, as an array whose first element is the options.
    const first = Array.isArray(args[0]) ? (args[0] as Array<unknown>)[0] : args[0]
    let host: string | undefined
    if (typeof first === "object" && first !== null) {
      const options = first as { host?: unknown; path?: unknown }
      if (typeof options.host === "string") host = options.host
    } else if (typeof first === "number" && typeof args[1] === "string") {
      host = args[1]
    }
    if (host !== undefined && isForbiddenHost(host)) {
      violations.push(host)
      throw new Error(`network rule: tests must not connect to ${host}`)
    }
    return (original as (...a: Array<unknown>) => net.Socket).apply(this, args)
  } as typeof net.Socket.prototype.connect
}
