/**
 * The `Credentials` value: an access key, its secret and session token kept `Redacted`, when
 * they expire, and where they came from.
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Option from "effect/Option"
import { pipeArguments, type Pipeable } from "effect/Pipeable"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Secret from "./internal/scrub.js"

/**
 * Where credentials came from: botocore's `method` names, so that output compares with
 * boto3's directly.
 *
 * @since 0.1.0
 * @category models
 */
export type Source =
  | "explicit"
  | "env"
  | "assume-role"
  | "assume-role-with-web-identity"
  | "sso"
  | "shared-credentials-file"
  | "login"
  | "custom-process"
  | "config-file"
  | "ec2-credentials-file"
  | "boto-config"
  | "container-role"
  | "iam-role"

/**
 * Every source label, in the default chain's order (`explicit` first: explicit keys given to a
 * session short-circuit the chain, as in botocore).
 *
 * @since 0.1.0
 * @category models
 */
export const sources: ReadonlyArray<Source> = [
  "explicit",
  "env",
  "assume-role",
  "assume-role-with-web-identity",
  "sso",
  "shared-credentials-file",
  "login",
  "custom-process",
  "config-file",
  "ec2-credentials-file",
  "boto-config",
  "container-role",
  "iam-role"
]

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("effect-aws-credentials/Credentials")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A resolved set of AWS credentials. Printing, inspecting or JSON-encoding one never shows the
 * secret access key or the session token.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials extends Pipeable, Equal.Equal {
  readonly [TypeId]: TypeId
  readonly accessKeyId: string
  readonly secretAccessKey: Redacted.Redacted<string>
  readonly sessionToken: Option.Option<Redacted.Redacted<string>>
  readonly expiration: Option.Option<DateTime.Utc>
  readonly accountId: Option.Option<string>
  /** The identity's ARN when the source was told it (STS's assumed-role user); not a secret. */
  readonly arn: Option.Option<string>
  readonly source: Source
  /** A readable trail, e.g. `profile dev (shared-credentials-file /home/me/.aws/credentials)`. */
  readonly provenance: string
  toJSON(): unknown
}

/**
 * Which credentials signed a request, without their secrets: what an error about a refused
 * request carries (`S3Error.signedWith`), so that it can say which key, from where, was refused.
 * The access key id is not a secret; messages still show it shortened (`AKIA...WXYZ`).
 *
 * @since 0.1.0
 * @category models
 */
export interface SigningCredentials {
  readonly source: Source
  readonly accessKeyId: string
  readonly provenance: string
  readonly accountId?: string | undefined
  /** The identity's ARN, when something that made the credentials knew it. */
  readonly arn?: string | undefined
}

/**
 * What `make` accepts: secrets as plain strings or already `Redacted`, expiration as a
 * `DateTime` or a `Date`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CredentialsInput {
  readonly accessKeyId: string
  readonly secretAccessKey: string | Redacted.Redacted<string>
  readonly sessionToken?: string | Redacted.Redacted<string> | undefined
  readonly expiration?: DateTime.DateTime | Date | undefined
  readonly accountId?: string | undefined
  readonly arn?: string | undefined
  readonly source: Source
  readonly provenance?: string | undefined
}

// Every secret a credentials value holds is remembered by the scrubber, so that an echo of it
// (a helper's stderr, a server's error) never reaches a message.
const toRedacted = (value: string | Redacted.Redacted<string>): Redacted.Redacted<string> => {
  if (!Redacted.isRedacted(value)) return Secret.secret(value)
  Secret.remember(Redacted.value(value))
  return value
}

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  },
  toJSON(this: Credentials) {
    return {
      _id: "Credentials",
      source: this.source,
      accessKeyId: this.accessKeyId,
      secretAccessKey: "<redacted>",
      sessionToken: Option.isSome(this.sessionToken) ? "<redacted>" : null,
      expiration: Option.match(this.expiration, { onNone: () => null, onSome: DateTime.formatIso }),
      accountId: Option.getOrNull(this.accountId),
      arn: Option.getOrNull(this.arn),
      provenance: this.provenance
    }
  },
  toString(this: Credentials) {
    return `Credentials(${this.source}, ${Secret.bound(Secret.escapeControls(this.accessKeyId), 128)}, ${this.provenance})`
  },
  [NodeInspectSymbol](this: Credentials) {
    return this.toJSON()
  },
  [Equal.symbol](this: Credentials, that: unknown): boolean {
    return isCredentials(that) &&
      this.accessKeyId === that.accessKeyId &&
      Equal.equals(this.secretAccessKey, that.secretAccessKey) &&
      Equal.equals(this.sessionToken, that.sessionToken) &&
      Equal.equals(this.expiration, that.expiration) &&
      Equal.equals(this.accountId, that.accountId) &&
      Equal.equals(this.arn, that.arn) &&
      this.source === that.source
  },
  [Hash.symbol](this: Credentials): number {
    return Hash.cached(this, Hash.combine(Hash.string(this.source))(Hash.string(this.accessKeyId)))
  }
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isCredentials = (u: unknown): u is Credentials => Predicate.hasProperty(u, TypeId)

/**
 * Builds a `Credentials` value. Empty optional strings count as absent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: CredentialsInput): Credentials => {
  const self = Object.create(Proto) as {
    -readonly [K in keyof Credentials]: Credentials[K]
  }
  self.accessKeyId = input.accessKeyId
  self.secretAccessKey = toRedacted(input.secretAccessKey)
  self.sessionToken = input.sessionToken === undefined || input.sessionToken === ""
    ? Option.none()
    : Option.some(toRedacted(input.sessionToken))
  self.expiration = input.expiration === undefined
    ? Option.none()
    : Option.some(
      input.expiration instanceof Date ? DateTime.unsafeMake(input.expiration) : DateTime.toUtc(input.expiration)
    )
  self.accountId = input.accountId === undefined || input.accountId === ""
    ? Option.none()
    : Option.some(input.accountId)
  self.arn = input.arn === undefined || input.arn === "" ? Option.none() : Option.some(input.arn)
  self.source = input.source
  // Composed from outside values (role names, URLs, paths): scrubbed and bounded once, here, for
  // every place that shows it (explain, logs, attempts).
  self.provenance = Secret.bound(Secret.scrubMessage(input.provenance ?? input.source), 1024)
  return self
}

/**
 * The same credentials with a different source label and provenance (used by the chain and
 * by sources that wrap others, such as assume-role).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withProvenance = (self: Credentials, provenance: string): Credentials =>
  make({
    accessKeyId: self.accessKeyId,
    secretAccessKey: self.secretAccessKey,
    sessionToken: Option.getOrUndefined(self.sessionToken),
    expiration: Option.getOrUndefined(self.expiration),
    accountId: Option.getOrUndefined(self.accountId),
    arn: Option.getOrUndefined(self.arn),
    source: self.source,
    provenance
  })

/**
 * Whether the credentials have expired at `now` (credentials without expiry never do).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isExpired = (self: Credentials, now: DateTime.Utc): boolean =>
  Option.match(self.expiration, {
    onNone: () => false,
    onSome: (expiration) => !DateTime.lessThan(now, expiration)
  })

/**
 * Masks a value the way `aws configure list` does: sixteen asterisks and the last four
 * characters. Values shorter than 16 characters are masked entirely, so that a short secret is
 * never shown whole.
 *
 * @since 0.1.0
 * @category formatting
 */
export const mask = (value: string): string =>
  value.length >= 16 ? `****************${value.slice(-4)}` : "****************"

/**
 * The values an SDK client wants, unwrapped at the last moment. Only call this at the
 * boundary where the secret is actually needed (signing, handing to an SDK client).
 *
 * @since 0.1.0
 * @category conversions
 */
export const toAwsIdentity = (self: Credentials): {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
  readonly expiration?: Date
  readonly accountId?: string
} => {
  const identity: {
    accessKeyId: string
    secretAccessKey: string
    sessionToken?: string
    expiration?: Date
    accountId?: string
  } = {
    accessKeyId: self.accessKeyId,
    secretAccessKey: Redacted.value(self.secretAccessKey)
  }
  if (Option.isSome(self.sessionToken)) identity.sessionToken = Redacted.value(self.sessionToken.value)
  if (Option.isSome(self.expiration)) identity.expiration = DateTime.toDate(self.expiration.value)
  if (Option.isSome(self.accountId)) identity.accountId = self.accountId.value
  return identity
}
