/**
 * moto (`python3 -m moto.server`) for the services tier: one server per test file, started in
 * `beforeAll` on a free loopback port, ready when `GET /moto-api/` answers, killed in `afterAll`.
 *
 * Without moto a user's run reports the suites as skipped with the reason; under `CI=true` that
 * is a failure, and so is a moto that does not start.
 *
 * IAM setup goes through moto's IAM query API, signed with SigV4 (`@smithy/signature-v4`, which
 * the AWS SDK brings), so the same helpers work before and after `enableAuth`.
 */
import { afterAll, beforeAll } from "@effect/vitest"
import { SignatureV4 } from "@smithy/signature-v4"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as net from "node:net"

const probe = (): { readonly ok: true } | { readonly ok: false; readonly reason: string } => {
  try {
    execFileSync("python3", ["-c", "import moto.server"], { stdio: "ignore", timeout: 30_000 })
    return { ok: true }
  } catch {
    return { ok: false, reason: "python3 cannot import moto.server (pip install 'moto[server]')" }
  }
}

const probed = probe()

/** Whether moto can run here. */
export const motoAvailable: boolean = probed.ok

/** Why the moto suites are skipped, if they are. */
export const motoMissingReason: string = probed.ok ? "" : probed.reason

if (!probed.ok && process.env.CI === "true") {
  throw new Error(`CI=true but ${probed.reason}`)
}

/** Keys of an IAM user (or any credentials to sign with). */
export interface Keys {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

/** moto's default account. */
export const accountId = "123456789012"

const allowAll = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] })

/** Anyone may assume the role (moto checks trust policies under auth and accepts `*`). */
const trustAnyone = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    { Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" },
    { Effect: "Allow", Principal: { Federated: "*" }, Action: "sts:AssumeRoleWithWebIdentity" }
  ]
})

/** Credentials for setup calls before auth is on (moto accepts any in open mode). */
const setupKeys: Keys = { accessKeyId: "AKIDMOTOSETUP", secretAccessKey: "moto-setup" }

type SourceData = string | ArrayBuffer | ArrayBufferView

const bytes = (data: SourceData): Buffer =>
  typeof data === "string"
    ? Buffer.from(data, "utf8")
    : ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : Buffer.from(data)

/** SHA-256 and HMAC-SHA-256 in the shape `SignatureV4` wants. */
class Sha256 {
  private readonly hash: crypto.Hash | crypto.Hmac
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? crypto.createHash("sha256") : crypto.createHmac("sha256", bytes(secret))
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data))
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()))
  }
}

const tag = (xml: string, name: string): string => {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)
  if (match?.[1] === undefined) throw new Error(`moto's answer has no <${name}>`)
  return match[1]
}

export interface Moto {
  readonly url: string
  /** A signed IAM query call; returns the XML answer, throws on a non-2xx status. */
  readonly iam: (action: string, params: Record<string, string>, keys?: Keys) => Promise<string>
  /** An IAM user with an access key and an inline policy allowing everything. */
  readonly createUser: (name: string, keys?: Keys) => Promise<Keys>
  /** A role anyone may assume, with an inline policy allowing everything; returns its ARN. */
  readonly createRole: (name: string, keys?: Keys) => Promise<string>
  /** Switches on signature checking and IAM authorization (for the whole process). */
  readonly enableAuth: () => Promise<void>
  /** Clears all state (users, roles, buckets). */
  readonly reset: () => Promise<void>
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Running {
  readonly child: ChildProcess
  readonly url: string
  readonly output: () => string
}

const startOnce = async (): Promise<Running> => {
  const port = await freePort()
  const child = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4000)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    try {
      const response = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) })
      if (response.ok) return { child, url, output: () => output }
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  child.kill("SIGKILL")
  throw new Error(`moto did not start on port ${port}${child.exitCode === null ? " within 20 s" : ` (exit ${child.exitCode})`}:\n${output}`)
}

const stop = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const killer = setTimeout(() => child.kill("SIGKILL"), 3000)
    child.once("exit", () => {
      clearTimeout(killer)
      resolve()
    })
    child.kill("SIGTERM")
  })

const client = (url: string): Moto => {
  const endpoint = new URL(url)
  const iam = async (action: string, params: Record<string, string>, keys: Keys = setupKeys) => {
    const body = new URLSearchParams({ Action: action, Version: "2010-05-08", ...params }).toString()
    const signer = new SignatureV4({ service: "iam", region: "us-east-1", credentials: keys, sha256: Sha256 })
    const signed = await signer.sign({
      method: "POST",
      protocol: "http:",
      hostname: endpoint.hostname,
      port: Number(endpoint.port),
      path: "/",
      query: {},
      headers: { host: endpoint.host, "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
      body
    })
    const response = await fetch(`${url}/`, { method: "POST", headers: signed.headers, body })
    const text = await response.text()
    if (!response.ok) throw new Error(`moto IAM ${action} answered ${response.status}: ${text.slice(0, 500)}`)
    return text
  }
  return {
    url,
    iam,
    createUser: async (name, keys) => {
      await iam("CreateUser", { UserName: name }, keys)
      await iam("PutUserPolicy", { UserName: name, PolicyName: "allow-all", PolicyDocument: allowAll }, keys)
      const answer = await iam("CreateAccessKey", { UserName: name }, keys)
      return { accessKeyId: tag(answer, "AccessKeyId"), secretAccessKey: tag(answer, "SecretAccessKey") }
    },
    createRole: async (name, keys) => {
      const answer = await iam("CreateRole", { RoleName: name, AssumeRolePolicyDocument: trustAnyone }, keys)
      await iam("PutRolePolicy", { RoleName: name, PolicyName: "allow-all", PolicyDocument: allowAll }, keys)
      return tag(answer, "Arn")
    },
    enableAuth: async () => {
      // Body `0` as text/plain: with a form content type Flask swallows the body and moto answers 500.
      const response = await fetch(`${url}/moto-api/reset-auth`, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "0"
      })
      if (!response.ok) throw new Error(`moto reset-auth answered ${response.status}: ${await response.text()}`)
    },
    reset: async () => {
      const response = await fetch(`${url}/moto-api/reset`, { method: "POST" })
      if (!response.ok) throw new Error(`moto reset answered ${response.status}`)
    }
  }
}

/**
 * A moto server for the current test file: started before its tests, killed after them.
 * `current()` is the running server (it throws outside the tests).
 */
export const useMoto = (): { readonly current: () => Moto } => {
  let running: Running | undefined
  let moto: Moto | undefined
  beforeAll(async () => {
    if (!motoAvailable) return
    let lastError: unknown
    // A free port can be taken between the probe and moto's bind: try a few.
    for (let attempt = 0; attempt < 3 && running === undefined; attempt++) {
      try {
        running = await startOnce()
      } catch (error) {
        lastError = error
      }
    }
    if (running === undefined) throw lastError
    moto = client(running.url)
  }, 90_000)
  afterAll(async () => {
    if (running !== undefined) await stop(running.child)
  })
  return {
    current: () => {
      if (moto === undefined) throw new Error("moto is not running")
      return moto
    }
  }
}
