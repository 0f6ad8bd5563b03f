/**
 * Where a service's endpoint is overridden, in botocore's order (its `ConfiguredEndpointProvider`):
 * `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, then the `<service>` sub-property
 * `endpoint_url` of the `[services NAME]` section the profile names, then the profile's own
 * `endpoint_url`. `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` (or the profile's
 * `ignore_configured_endpoint_urls`) switches all of them off. Also the FIPS and dual-stack flags
 * (`AWS_USE_FIPS_ENDPOINT` / `use_fips_endpoint`, `AWS_USE_DUALSTACK_ENDPOINT` /
 * `use_dualstack_endpoint`), so that the SDK clients we build never read them from the process.
 *
 * Light on purpose (no Schema, no SDK): the sources call it before loading their heavy parts.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Service as Session } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import * as ProfileFile from "../ProfileFile.js"
import * as Env from "./env.js"
import { displayUrl } from "./scrub.js"
import * as Setting from "./setting.js"

/** A service as the configuration names it: `SSO OIDC` is `AWS_ENDPOINT_URL_SSO_OIDC` and `sso_oidc`. */
export interface ServiceId {
  /** The environment variable suffix, e.g. `SSO_OIDC`. */
  readonly env: string
  /** The key in a `[services]` section, e.g. `sso_oidc`. */
  readonly key: string
}

export const services = {
  sso: { env: "SSO", key: "sso" },
  ssoOidc: { env: "SSO_OIDC", key: "sso_oidc" },
  signin: { env: "SIGNIN", key: "signin" }
} as const satisfies Record<string, ServiceId>

/** An endpoint override and where it was set (for messages). */
export interface ConfiguredEndpoint {
  readonly url: string
  readonly from: string
}

/** What the SDK client needs besides the region. */
export interface EndpointSettings {
  readonly endpoint: Option.Option<ConfiguredEndpoint>
  readonly useFipsEndpoint: boolean
  readonly useDualstackEndpoint: boolean
}

const flag = (
  variable: string,
  profile: Option.Option<ProfileFile.Section>,
  key: string
): Effect.Effect<boolean> => Effect.map(Setting.read(profile, "", { variable, key }), Setting.isTrue)

const checkUrl = (
  candidate: ConfiguredEndpoint,
  source: Credentials.Source,
  profileName: string
): Effect.Effect<ConfiguredEndpoint, CredentialsError> => {
  let parsed: URL | undefined
  try {
    parsed = new URL(candidate.url)
  } catch {
    parsed = undefined
  }
  return parsed !== undefined && (parsed.protocol === "http:" || parsed.protocol === "https:")
    ? Effect.succeed(candidate)
    : Effect.fail(
      new CredentialsError({
        source,
        reason: "InvalidConfiguration",
        profile: profileName,
        detail: `the endpoint URL from ${candidate.from} is not an http(s) URL: "${displayUrl(candidate.url)}"`
      })
    )
}

/**
 * The endpoint settings for `service`, read from the environment and from `profileName`'s
 * profile (botocore reads the session's active profile; the sources pass that one).
 */
export const resolve = (options: {
  readonly session: Session
  readonly profileName: string
  readonly service: ServiceId
  readonly source: Credentials.Source
}): Effect.Effect<EndpointSettings, CredentialsError> =>
  Effect.gen(function*() {
    const { profileName, service, session, source } = options
    const profile = Option.fromNullable(session.profiles.profiles.get(profileName))
    const useFipsEndpoint = yield* flag("AWS_USE_FIPS_ENDPOINT", profile, "use_fips_endpoint")
    const useDualstackEndpoint = yield* flag("AWS_USE_DUALSTACK_ENDPOINT", profile, "use_dualstack_endpoint")
    const settings = (endpoint: Option.Option<ConfiguredEndpoint>): EndpointSettings => ({
      endpoint,
      useFipsEndpoint,
      useDualstackEndpoint
    })
    if (yield* flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", profile, "ignore_configured_endpoint_urls")) {
      return settings(Option.none())
    }
    const fromEnv = yield* Env.firstOf([`AWS_ENDPOINT_URL_${service.env}`, "AWS_ENDPOINT_URL"])
    if (Option.isSome(fromEnv)) {
      const candidate = { url: fromEnv.value.value, from: fromEnv.value.name }
      return settings(Option.some(yield* checkUrl(candidate, source, profileName)))
    }
    if (Option.isNone(profile)) return settings(Option.none())
    const servicesName = ProfileFile.property(profile.value, "services")
    if (Option.isSome(servicesName)) {
      const section = session.profiles.services.get(servicesName.value.value)
      if (section === undefined) {
        return yield* new CredentialsError({
          source,
          reason: "InvalidConfiguration",
          profile: profileName,
          path: servicesName.value.path,
          line: servicesName.value.line,
          detail: `services = ${servicesName.value.value} names a [services ${servicesName.value.value}] section ` +
            `that is not in the config file`
        })
      }
      const serviceProperty = ProfileFile.property(section, service.key)
      if (Option.isSome(serviceProperty)) {
        const url = ProfileFile.subProperties(serviceProperty.value.value).get("endpoint_url")
        if (url !== undefined && url !== "") {
          return settings(Option.some(
            yield* checkUrl(
              {
                url,
                from: `[services ${section.name}] ${service.key}.endpoint_url ` +
                  `(${serviceProperty.value.path}:${serviceProperty.value.line})`
              },
              source,
              profileName
            )
          ))
        }
      }
    }
    const global = ProfileFile.property(profile.value, "endpoint_url")
    if (Option.isSome(global) && global.value.value !== "") {
      return settings(Option.some(
        yield* checkUrl(
          {
            url: global.value.value,
            from: `endpoint_url of profile ${profileName} (${global.value.path}:${global.value.line})`
          },
          source,
          profileName
        )
      ))
    }
    return settings(Option.none())
  })
