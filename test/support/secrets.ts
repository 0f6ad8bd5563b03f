import { assert } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as util from "node:util"

/**
 * Fails the test if any secret shows in any printed form of `value` (message, `String`, JSON,
 * `util.inspect` with hidden fields and unlimited depth, and, for an `Exit`, its pretty cause).
 */
export const assertNoSecrets = (value: unknown, secrets: ReadonlyArray<string>): void => {
  const forms: Array<string> = [
    String(value),
    util.inspect(value, { showHidden: true, depth: Infinity }),
    util.inspect(value, { showHidden: true, depth: Infinity, customInspect: false })
  ]
  try {
    forms.push(JSON.stringify(value) ?? "")
  } catch {
    // Circular structures: the inspect forms cover them.
  }
  if (value instanceof Error) forms.push(value.message)
  if (Exit.isExit(value) && Exit.isFailure(value)) forms.push(Cause.pretty(value.cause))
  for (const secret of secrets) {
    for (const form of forms) {
      assert.notInclude(form, secret, "a secret was printed")
    }
  }
}
