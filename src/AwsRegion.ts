/**
 * The region AWS clients talk to, with where it came from: explicit > `AWS_REGION` >
 * `AWS_DEFAULT_REGION` > the active profile's `region` > the EC2 instance metadata service.
 *
 * The last link costs, off EC2 with nothing else set, one metadata timeout at most
 * (`AWS_METADATA_SERVICE_TIMEOUT`, 1 s by default: the token request and the IMDSv1 GET beside it
 * both end within it, and nothing is tried again), and nothing at all when the session's `iam-role`
 * link already found the service unreachable in the last minute; when both ask at once, one set
 * of requests goes out and the other waits for its answer. `AWS_EC2_METADATA_DISABLED=true` turns
 * the link off.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AwsSession } from "./AwsSession.js"
import * as Region from "./internal/region.js"

/**
 * A resolved region and its origin, e.g. `{ name: "eu-west-1", source: "env AWS_REGION" }`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly name: string
  /** `explicit`, `env AWS_REGION`, `env AWS_DEFAULT_REGION`, `profile NAME` or `imds`. */
  readonly source: string
  /** For a region from a profile: the file and line it was written on. */
  readonly path?: string | undefined
  readonly line?: number | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class AwsRegion extends Context.Tag("effect-aws-credentials/AwsRegion")<AwsRegion, Service>() {}

/**
 * No region anywhere. The message lists where it looked.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegionNotFound extends Data.TaggedError("RegionNotFound")<{
  readonly tried: ReadonlyArray<string>
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `No AWS region found; looked at ${this.tried.join(", ")}. Set AWS_REGION or add region to the profile.`
  }
}

/**
 * Resolves the region for the session, or `None` when nothing sets one.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve: Effect.Effect<Option.Option<Service>, never, AwsSession> = Effect.flatMap(AwsSession, Region.resolve)

/**
 * The region as a layer; fails with `RegionNotFound` when nothing sets one.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AwsRegion, RegionNotFound, AwsSession> = Layer.effect(
  AwsRegion,
  Effect.flatMap(resolve, Option.match({
    onSome: Effect.succeed,
    onNone: () =>
      Effect.flatMap(AwsSession, (session) =>
        Effect.fail(
          new RegionNotFound({
            tried: [
              "the session's region option",
              "AWS_REGION",
              "AWS_DEFAULT_REGION",
              `profile ${session.profileName}`,
              "the instance metadata service"
            ]
          })
        ))
  }))
)

/**
 * A fixed region, for tests and for programs that know theirs.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStatic = (name: string): Layer.Layer<AwsRegion> =>
  Layer.succeed(AwsRegion, { name, source: "explicit" })
