/**
 * S3 operations fail with `S3Error | CredentialsError`: a test that expects the server's (or the
 * service's own) refusal narrows to `S3Error` here, failing with the other error's message.
 */
import { assert } from "@effect/vitest"
import * as S3 from "../../src/S3.js"

export const s3ErrorOf = (error: unknown): S3.S3Error => {
  assert.isTrue(S3.isS3Error(error), `expected an S3Error, got ${String(error)}`)
  return error as S3.S3Error
}
