import * as net from "node:net"

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
if (proto[guarded] === undefined) {
  const original = net.Socket.prototype.connect
  proto[guarded] = true
  net.Socket.prototype.connect = function(this: net.Socket, ...args: Array<unknown>) {
    const first = args[0]
    let host: string | undefined
    if (typeof first === "object" && first !== null && !Array.isArray(first)) {
      const options = first as { host?: unknown; path?: unknown }
      if (typeof options.host === "string") host = options.host
    } else if (typeof first === "number" && typeof args[1] === "string") {
      host = args[1]
    }
    if (host !== undefined && isForbiddenHost(host)) {
      throw new Error(`network rule: tests must not connect to ${host}`)
    }
    return (original as (...a: Array<unknown>) => net.Socket).apply(this, args)
  } as typeof net.Socket.prototype.connect
}
