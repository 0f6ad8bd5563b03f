/**
 * One loopback fake of each kind for a whole test file (instance metadata + container endpoint,
 * STS, the SSO portal / SSO-OIDC / sign-in service), started in `beforeAll` and closed in
 * `afterAll`, so that a file with many chain tests does not start servers per test. Faults not
 * consumed by a test are dropped after it, so one test's fault never reaches the next.
 */
import { afterAll, afterEach, beforeAll } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { type MetadataServer, metadataServer } from "./metadataServer.js"
import * as SsoServer from "./ssoServer.js"
import * as StsServer from "./stsServer.js"

export interface Fakes {
  readonly metadata: MetadataServer
  readonly sts: StsServer.StsServer
  readonly sso: SsoServer.SsoServer
}

/** Starts the fakes for the current file; `current()` returns them inside tests. */
export const useFakes = (): { readonly current: () => Fakes } => {
  let scope: Scope.CloseableScope | undefined
  let fakes: Fakes | undefined
  beforeAll(async () => {
    scope = await Effect.runPromise(Scope.make())
    const [metadata, sts, sso] = await Effect.runPromise(
      Scope.extend(Effect.all([metadataServer(), StsServer.make(), SsoServer.make()]), scope)
    )
    fakes = { metadata, sts, sso }
  })
  afterEach(() => {
    fakes?.metadata.clearFaults()
    fakes?.sts.clearFaults()
  })
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  })
  return {
    current: () => {
      if (fakes === undefined) throw new Error("the shared fakes are not running (use current() inside tests)")
      return fakes
    }
  }
}
