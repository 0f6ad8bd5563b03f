/**
 * Presigned URLs by the SDK's own presigner (`getSignedUrl` from `@aws-sdk/s3-request-presigner`,
 * which stops the client's middleware where the SDK itself knows signing happens): the request
 * the client would send for a GetObject or a PutObject (its endpoint, addressing style and
 * signing region, as the client resolves them), signed as a query string for the lifetime
 * `presign` was given, from `now`. The lifetime is decided before (`s3Common.presignLifetime`:
 * never past the expiry of the credentials `presign` is given), so the URL must be signed with
 * exactly those. The presigner signs with its client's `credentials`, and the client's provider
 * asks `AwsCredentials` again (after a refresh in between, the URL would be signed with other
 * credentials than the ones that bounded its lifetime); so it is handed a view of the client
 * whose `credentials` are those, and only those.
 *
 * With `requestChecksumCalculation: "WHEN_SUPPORTED"` (the `"aws"` compat) the SDK puts a CRC32 of
 * the empty body on a PutObject (`x-amz-checksum-crc32: AAAAAA==`, `x-amz-sdk-checksum-algorithm`)
 * and asks for checksums on a GetObject (`x-amz-checksum-mode`), and the presigner hoists them
 * into the query: servers that check it (SeaweedFS, R2, Garage, ...) then refuse every upload
 * through the URL, whose body is not empty (moto does not check). They are kept as headers and
 * left unsigned instead, so the URL has none. The URL is checked anyway, for checksum parameters,
 * the access key and the lifetime it was meant to have: an SDK that adds another checksum, or
 * signs with other credentials, fails here (`SigningFailed`) instead of handing out a URL that
 * cannot be used or that says the wrong lifetime.
 */
import type { S3Client } from "@aws-sdk/client-s3"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Credentials from "../Credentials.js"
import type { S3Error } from "../S3Error.js"
import { type CallContext, failure } from "./s3Common.js"
import type { Sdk } from "./s3Client.js"

/** The checksum headers the SDK may add, that must not reach a presigned URL. */
const checksumHeaders = [
  "x-amz-sdk-checksum-algorithm",
  "x-amz-checksum-mode",
  "x-amz-checksum-crc32",
  "x-amz-checksum-crc32c",
  "x-amz-checksum-crc64nvme",
  "x-amz-checksum-sha1",
  "x-amz-checksum-sha256",
  "x-amz-checksum-type"
]

const checksumParameter = /^x-amz-(sdk-)?checksum/i

/** `client`, with `credentials` as the only credentials it has (what the presigner signs with). */
const signingWith = (client: S3Client, credentials: Credentials.Credentials): S3Client => {
  const identity = Credentials.toAwsIdentity(credentials)
  const view: S3Client = Object.create(client)
  Object.defineProperty(view, "config", {
    value: { ...client.config, credentials: () => Promise.resolve(identity) }
  })
  return view
}

/** Why a URL the presigner returned is not the one asked for, if it is not. */
const mismatch = (
  url: string,
  expected: { readonly accessKeyId: string; readonly seconds: number }
): string | undefined => {
  const query = new URL(url).searchParams
  for (const name of query.keys()) {
    if (checksumParameter.test(name)) return `the SDK put a checksum parameter (${name}) in the URL`
  }
  if (!query.get("X-Amz-Credential")?.startsWith(`${expected.accessKeyId}/`)) {
    return "the URL was not signed with the credentials given"
  }
  if (query.get("X-Amz-Expires") !== String(expected.seconds)) return "the URL does not have the lifetime given"
  return undefined
}

/**
 * The URL of `method` on `bucket`/`key`, signed with `credentials` for `seconds` from `now`.
 * `toS3Error` maps a failure of the client's own request building (an endpoint that does not
 * resolve, a bucket name it refuses).
 */
export const presign = (options: {
  readonly sdk: Sdk
  readonly client: S3Client
  readonly context: CallContext
  readonly method: "GET" | "PUT"
  readonly credentials: Credentials.Credentials
  readonly seconds: number
  readonly now: DateTime.Utc
  readonly toS3Error: (context: CallContext, error: unknown) => S3Error
}): Effect.Effect<string, S3Error> =>
  Effect.gen(function*() {
    const { context, method, sdk } = options
    const input = { Bucket: context.bucket, Key: context.key }
    const command = method === "GET" ? new sdk.GetObjectCommand(input) : new sdk.PutObjectCommand(input)
    const url = yield* Effect.tryPromise({
      // Fresh sets on every call: the presigner adds to them.
      try: () =>
        sdk.getSignedUrl(signingWith(options.client, options.credentials), command, {
          expiresIn: options.seconds,
          signingDate: DateTime.toDate(options.now),
          unhoistableHeaders: new Set(checksumHeaders),
          unsignableHeaders: new Set(checksumHeaders)
        }),
      catch: (error) => options.toS3Error(context, error)
    })
    const wrong = mismatch(url, { accessKeyId: options.credentials.accessKeyId, seconds: options.seconds })
    if (wrong !== undefined) {
      return yield* Effect.fail(
        failure(context, { reason: "InvalidConfiguration", code: "SigningFailed", detail: `could not sign the URL: ${wrong}` })
      )
    }
    return url
  })
