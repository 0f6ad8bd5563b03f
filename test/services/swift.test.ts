/**
 * The Swift server that `swift.sh` starts behaves as a strict S3 (test/services/swift.ts, and
 * ../shared/SERVERS.md): path-style buckets and objects through `@aws-sdk/client-s3`, SigV4
 * verified (a wrong secret is `SignatureDoesNotMatch`), presigned URLs honoured until they
 * expire, and a payload that does not match its signed SHA-256 refused (`BadDigest`).
 */
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException
} from "@aws-sdk/client-s3"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { SignatureV4 } from "@smithy/signature-v4"
import * as crypto from "node:crypto"
import { startSwiftOrSkip } from "./swift.js"

const started = await startSwiftOrSkip()
afterAll(() => started.swift?.stop())

const suite = started.swift === undefined ? describe.skip : describe
const suffix = started.skipReason === undefined ? "" : ` (skipped: ${started.skipReason})`

const swift = () => {
  if (started.swift === undefined) throw new Error("Swift is not running")
  return started.swift
}

const client = (secretAccessKey = swift().secretAccessKey) =>
  new S3Client({
    endpoint: swift().endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: swift().accessKeyId, secretAccessKey },
    // The SDK's default aws-chunked uploads with trailing checksums get 501 from Swift.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 1
  })

/**
 * SHA-256 / HMAC-SHA-256 on node:crypto in the shape `SignatureV4` wants (neither
 * `@aws-crypto/sha256-js` nor `@smithy/hash-node` is installed with this SDK generation).
 */
class Sha256 {
  private readonly hash: crypto.Hash | crypto.Hmac
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? crypto.createHash("sha256") : crypto.createHmac("sha256", toBuffer(secret))
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data))
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()))
  }
}

const toBuffer = (data: string | ArrayBuffer | ArrayBufferView): Buffer =>
  typeof data === "string"
    ? Buffer.from(data, "utf8")
    : ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : Buffer.from(data)

const signer = () =>
  new SignatureV4({
    service: "s3",
    region: "us-east-1",
    credentials: { accessKeyId: swift().accessKeyId, secretAccessKey: swift().secretAccessKey },
    sha256: Sha256,
    // S3 signs the encoded path as sent (no double encoding).
    uriEscapePath: false
  })

const target = (key: string) => {
  const url = new URL(swift().endpoint)
  // The path as sent, each segment URI-encoded once: S3 signs it as it is (uriEscapePath: false).
  const path = `/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`
  return { protocol: url.protocol, hostname: url.hostname, port: Number(url.port), host: url.host, path }
}

/** A presigned GET URL for `key`, valid `expiresIn` seconds from now. */
const presignGet = async (key: string, expiresIn: number): Promise<string> => {
  const { host, hostname, path, port, protocol } = target(key)
  const presigned = await signer().presign(
    // Query-string auth signs UNSIGNED-PAYLOAD (what Swift, like S3, expects for presigned URLs).
    { method: "GET", protocol, hostname, port, path, query: {}, headers: { host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" } },
    { expiresIn }
  )
  const query = new URLSearchParams()
  for (const [name, value] of Object.entries(presigned.query ?? {})) {
    if (typeof value === "string") query.append(name, value)
  }
  return `${protocol}//${host}${path}?${query.toString()}`
}

const codeOf = async (response: Response): Promise<string> =>
  /<Code>([^<]*)<\/Code>/.exec(await response.text())?.[1] ?? `(no <Code>, HTTP ${response.status})`

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const bucket = `swift-test-${crypto.randomBytes(4).toString("hex")}`
const key = "dir/hello world.txt"
const body = "hello from swift\n"

suite(`Swift with s3api on loopback${suffix}`, () => {
  it("creates a bucket, puts and gets an object (path style)", async () => {
    const s3 = client()
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
      const listed = await s3.send(new ListBucketsCommand({}))
      assert.include((listed.Buckets ?? []).map((b) => b.Name ?? ""), bucket)
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
      assert.strictEqual(put.ETag, `"${crypto.createHash("md5").update(body).digest("hex")}"`)
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      assert.strictEqual(await got.Body?.transformToString(), body)
    } finally {
      s3.destroy()
    }
  })

  it("refuses a wrong secret with SignatureDoesNotMatch (403)", async () => {
    const s3 = client("not-the-secret")
    try {
      const error = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(
        () => undefined,
        (e: unknown) => e
      )
      assert.instanceOf(error, S3ServiceException)
      assert.strictEqual((error as S3ServiceException).name, "SignatureDoesNotMatch")
      assert.strictEqual((error as S3ServiceException).$metadata.httpStatusCode, 403)
    } finally {
      s3.destroy()
    }
  })

  it("honours a presigned GET URL until it expires, then refuses it", async () => {
    const url = await presignGet(key, 2)
    const fresh = await fetch(url)
    assert.strictEqual(fresh.status, 200, await fresh.clone().text())
    assert.strictEqual(await fresh.text(), body)
    // X-Amz-Date has whole seconds: wait well past date + expiry.
    await sleep(3_500)
    const expired = await fetch(url)
    assert.strictEqual(expired.status, 403)
    assert.strictEqual(await codeOf(expired), "AccessDenied")
    // Tampering with the expiry breaks the signature.
    const stretched = await fetch(url.replace(/X-Amz-Expires=2\b/, "X-Amz-Expires=3600"))
    assert.strictEqual(stretched.status, 403)
    assert.strictEqual(await codeOf(stretched), "SignatureDoesNotMatch")
  })

  it("refuses a body whose SHA-256 is not the signed x-amz-content-sha256 (BadDigest)", async () => {
    const { host, hostname, path, port, protocol } = target("tampered.txt")
    const signedBody = "the body that was signed"
    const sentBody = "the body that was sent!!"
    const signed = await signer().sign({
      method: "PUT",
      protocol,
      hostname,
      port,
      path,
      query: {},
      headers: {
        host,
        "x-amz-content-sha256": crypto.createHash("sha256").update(signedBody).digest("hex")
      }
    })
    const response = await fetch(`${protocol}//${host}${path}`, {
      method: "PUT",
      headers: signed.headers,
      body: sentBody
    })
    assert.strictEqual(response.status, 400)
    assert.strictEqual(await codeOf(response), "BadDigest")
    // Nothing was stored.
    const s3 = client()
    try {
      const error = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "tampered.txt" })).then(
        () => undefined,
        (e: unknown) => e
      )
      assert.strictEqual((error as S3ServiceException | undefined)?.name, "NoSuchKey")
    } finally {
      s3.destroy()
    }
  })
})
