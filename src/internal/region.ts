/**
 * The one region resolver, with where the region came from: explicit > `AWS_REGION` >
 * `AWS_DEFAULT_REGION` > the profile's `region` > (for `AwsRegion` only) the EC2 instance
 * metadata service. STS and the sign-in service use the configured region without the metadata
 * link, as botocore builds those clients from configuration only: asking would cost a link up to
 * a metadata timeout off EC2.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AwsSession, Service as Session } from "../AwsSession.js"
import * as ProfileFile from "../ProfileFile.js"
import * as Env from "./env.js"
import * as ImdsRegion from "./imdsRegion.js"

export interface Region {
  readonly name: string
  /** `explicit`, `env AWS_REGION`, `env AWS_DEFAULT_REGION`, `profile NAME` or `imds`. */
  readonly source: string
  /** For a region from a profile: the file and line it was written on. */
  readonly path?: string | undefined
  readonly line?: number | undefined
}

const fromProfile = (section: ProfileFile.Section): Option.Option<Region> =>
  Option.map(
    Option.filter(ProfileFile.property(section, "region"), (p) => p.value !== ""),
    (p): Region => ({ name: p.value, source: `profile ${section.name}`, path: p.path, line: p.line })
  )

/**
 * The region before any profile is read: explicit, else `AWS_REGION`, else `AWS_DEFAULT_REGION`.
 * What can be told when there is no session (its files do not parse, its profile is missing).
 */
export const beforeProfiles = (explicit: Option.Option<string>): Effect.Effect<Option.Option<Region>> =>
  Option.isSome(explicit)
    ? Effect.succeed(Option.some({ name: explicit.value, source: "explicit" }))
    : Effect.map(
      Env.firstOf(["AWS_REGION", "AWS_DEFAULT_REGION"]),
      Option.map(({ name, value }): Region => ({ name: value, source: `env ${name}` }))
    )

/**
 * The configured region, never the metadata service's. `first` is a profile to look at before
 * the active one (the `aws login` profile at the root of a chain names its own region).
 */
export const configured = (
  session: Session,
  first?: ProfileFile.Section | undefined
): Effect.Effect<Option.Option<Region>> =>
  Effect.map(beforeProfiles(session.explicitRegion), (region) =>
    Option.orElse(
      region,
      () => Option.orElse(first === undefined ? Option.none<Region>() : fromProfile(first), () =>
        Option.flatMap(session.profile, fromProfile))
    ))

/** The configured region, else the instance metadata service's (off when it is disabled). */
export const resolve = (session: Session): Effect.Effect<Option.Option<Region>, never, AwsSession> =>
  Effect.flatMap(
    configured(session),
    (region): Effect.Effect<Option.Option<Region>, never, AwsSession> =>
      Option.isSome(region) ? Effect.succeed(region) : ImdsRegion.resolve
  )
