/**
 * Whether an instance metadata endpoint answers at all, learnt once per session by whichever
 * lookup asks first (the `iam-role` link, an assume-role root with `credential_source =
 * Ec2InstanceMetadata`, or the region's metadata link) and kept in the session's `MetadataMemo`.
 *
 * Off EC2 nothing answers, and each lookup would pay the service's timeout: with the memo the
 * first one pays and the others do not ask. A lookup that starts while another is asking waits
 * for its verdict (single flight) instead of sending its own requests. Only "unreachable" is
 * remembered, and only for `defaults.unreachableFor`: a service that answered is asked by
 * everyone as usual, and one that had a blip is asked again a minute later. A refresh of
 * credentials runs with the session built again (`AwsSession.reload`), whose memo is empty, so
 * refreshes always ask (static stability covers their outages).
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { MetadataEndpointState, MetadataMemo } from "../AwsSession.js"
import { defaults } from "./imdsSettings.js"

const without = (
  map: ReadonlyMap<string, MetadataEndpointState>,
  endpoint: string
): ReadonlyMap<string, MetadataEndpointState> => {
  const next = new Map(map)
  next.delete(endpoint)
  return next
}

/**
 * Runs `ask` against `endpoint` unless the session already knows the endpoint to be unreachable,
 * in which case `known` gives the outcome (with the detail the first lookup saw) and no request
 * is sent. `unreachable` reads `ask`'s outcome: `Some(detail)` when nothing answered. Without a
 * memo (a session built by hand), `ask` runs as it is.
 */
export const gated = <A, E, R>(
  memo: MetadataMemo | undefined,
  endpoint: string,
  ask: Effect.Effect<A, E, R>,
  unreachable: (failure: E) => Option.Option<string>,
  known: (detail: string) => Effect.Effect<A, E>
): Effect.Effect<A, E, R> => {
  if (memo === undefined) return ask
  return Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const mine = yield* Deferred.make<Option.Option<string>>()
      const now = yield* Clock.currentTimeMillis
      const window = Duration.toMillis(defaults.unreachableFor)
      const found = yield* Ref.modify(memo.endpoints, (map) => {
        const entry = map.get(endpoint)
        return entry !== undefined && (entry._tag === "Asking" || now - entry.since < window)
          ? [Option.some(entry), map]
          : [Option.none<MetadataEndpointState>(), new Map(map).set(endpoint, { _tag: "Asking", verdict: mine })]
      })
      if (Option.isSome(found)) {
        const entry = found.value
        if (entry._tag === "Unreachable") {
          return yield* restore(known(
            `${entry.detail}; found unreachable ${Duration.format(Duration.millis(now - entry.since))} ago in this ` +
              `session, not asked again before ${Duration.format(defaults.unreachableFor)} have passed`
          ))
        }
        // Someone is asking: its verdict, not our own timeouts. Unreachable: we are done; else ask.
        const verdict = yield* restore(Deferred.await(entry.verdict))
        return yield* restore(Option.match(verdict, {
          onNone: () => ask,
          onSome: (detail) => known(`${detail}; found unreachable by another lookup of this session at the same time`)
        }))
      }
      return yield* restore(ask).pipe(
        Effect.onExit((exit) =>
          Effect.gen(function*() {
            // Interrupted or a defect: nothing learnt, and whoever waits asks for itself.
            const verdict = Exit.isFailure(exit)
              ? Option.flatMap(Cause.failureOption(exit.cause), unreachable)
              : Option.none()
            const at = yield* Clock.currentTimeMillis
            yield* Ref.update(memo.endpoints, (map) => {
              const entry = map.get(endpoint)
              if (entry === undefined || entry._tag !== "Asking" || entry.verdict !== mine) return map
              return Option.isSome(verdict)
                ? new Map(map).set(endpoint, { _tag: "Unreachable", detail: verdict.value, since: at })
                : without(map, endpoint)
            })
            yield* Deferred.succeed(mine, verdict)
          })
        )
      )
    })
  )
}
