/**
 * The roots of an assume-role chain that live in other source modules (IAM Identity Center,
 * `aws login`, instance metadata, containers), reached through a small interface. Tests swap in
 * fakes through the `RootSources` reference.
 *
 * What the modules are used for:
 * - `providers/Sso.js` and `providers/Login.js`: `resolveForProfile({ session, profileName })`
 *   (SSO with a token-refresh gate that lives as long as the assume-role layer),
 *   the credentials of a named (source) profile, with the active profile's endpoint settings;
 * - `internal/imdsSettings.js` and `internal/imdsClient.js`: `makeState` and
 *   `resolveCredentials({}, state)`, the state kept for the assume-role layer's life (its token,
 *   and the last credentials for static stability);
 * - `internal/container.js`: `fetchCredentials(defaults)`.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { AwsSession, Service as Session } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as ContainerFetcher from "./container.js"
import * as ImdsClient from "./imdsClient.js"
import * as ImdsSettings from "./imdsSettings.js"
import * as Login from "../providers/Login.js"
import * as Sso from "../providers/Sso.js"

/** When each SSO token was last refreshed (`Sso.TokenRefreshGate`'s state). */
export type SsoGate = Ref.Ref<ReadonlyMap<string, number>>

/** A gate for one assume-role source. */
export const makeSsoGate: Effect.Effect<SsoGate> = Ref.make<ReadonlyMap<string, number>>(new Map())

/** The instance-metadata state of one assume-role source, made when a chain first needs it. */
export type ImdsStateCell = Ref.Ref<Option.Option<ImdsSettings.State>>

/** An empty cell (no module loaded until a chain starts at instance metadata). */
export const makeImdsStateCell: Effect.Effect<ImdsStateCell> = Ref.make(Option.none<ImdsSettings.State>())

type Resolved<R> = Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, R>

export interface Service {
  /**
   * SSO role credentials of a named profile. `gate` lives as long as the assume-role source, so
   * that SSO-OIDC token refreshes stay spaced across the chain's re-runs.
   */
  readonly sso: (session: Session, profileName: string, gate?: SsoGate | undefined) => Resolved<FileSystem.FileSystem>
  /** `aws login` credentials of a named profile. */
  readonly login: (session: Session, profileName: string) => Resolved<FileSystem.FileSystem>
  /**
   * `credential_source = Ec2InstanceMetadata`. `state` (the metadata token and the last
   * credentials, for static stability) lives as long as the assume-role source; it is filled on
   * the first run.
   */
  readonly instanceMetadata: (state?: ImdsStateCell | undefined) => Resolved<AwsSession>
  /** `credential_source = EcsContainer`. */
  readonly container: Resolved<FileSystem.FileSystem>
}

const sourceRoots: Service = {
  sso: (session, profileName, gate) =>
    Sso.resolveForProfile({ session, profileName, gate: gate === undefined ? undefined : { lastAttempt: gate } }),
  login: (session, profileName) => Login.resolveForProfile({ session, profileName }),
  instanceMetadata: (cell) =>
    Effect.flatMap(
      cell === undefined ? ImdsSettings.makeState : Effect.flatMap(Ref.get(cell), Option.match({
        onSome: Effect.succeed,
        onNone: () => Effect.tap(ImdsSettings.makeState, (state) => Ref.set(cell, Option.some(state)))
      })),
      (state) => ImdsClient.resolveCredentials({}, state)
    ),
  container: ContainerFetcher.fetchCredentials(ContainerFetcher.defaults)
}

/** The root sources an assume-role chain delegates to; by default the real modules. */
export class RootSources extends Context.Reference<RootSources>()("effect-aws-credentials/internal/RootSources", {
  defaultValue: (): Service => sourceRoots
}) {}
