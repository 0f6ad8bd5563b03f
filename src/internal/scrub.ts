/**
 * The one scrubber every text from outside passes through before it reaches an error, a log
 * line, a span or the command line's output: a process's stderr, a server's message, a file's
 * content, an environment value, a URL.
 *
 * Two strengths:
 * - `scrub` is for text we did not write (stderr, response bodies, raw values): on top of what
 *   `scrubMessage` does, it removes anything shaped like a secret (long base64 and hex runs, JSON
 *   web tokens), and bounds the text to a few hundred characters.
 * - `scrubMessage` is the last pass over every error message (`CredentialsError` and
 *   `CredentialsUnavailable` apply it when they are made): it removes the values of secret-named
 *   fields (`"SecretAccessKey": "..."`, `aws_session_token = ...`, `Authorization: Bearer ...`),
 *   every secret the library has handled in this process, the userinfo and query of URLs, and
 *   escapes terminal control sequences. It keeps paths, ARNs and names readable, since it runs on
 *   messages we composed ourselves too.
 *
 * The secrets the library has handled (keys and tokens it resolved or read) are remembered, at
 * most `rememberedSecrets` of them, most recent first, so that an echo of one is caught wherever
 * it shows up. That memory is process-wide on purpose: an error is made deep inside a source,
 * far from anything that could carry a context.
 */

import * as Redacted from "effect/Redacted"

/** How many of the most recent secrets are remembered. */
export const rememberedSecrets = 64

/** What replaces a secret. */
export const redacted = "<redacted>"

const known: Array<string> = []
/** The distinctive runs of the remembered secrets (see `removeSecrets`), made again when one is added. */
let knownGrams: ReadonlySet<string> | undefined

/** Remembers a secret the library handles, so that any echo of it is scrubbed. */
export const remember = (secret: string | undefined): void => {
  // Shorter values are too likely to be ordinary words to cut out of messages.
  if (secret === undefined || secret.length < 8) return
  const at = known.indexOf(secret)
  if (at === 0) return
  if (at > 0) known.splice(at, 1)
  known.unshift(secret)
  if (known.length > rememberedSecrets) known.length = rememberedSecrets
  knownGrams = undefined
}

/** A secret value as `Redacted`, remembered for scrubbing. */
export const secret = (value: string): Redacted.Redacted<string> => {
  remember(value)
  return Redacted.make(value)
}

// Field names whose values are secret: AWS's (`SecretAccessKey`, `SessionToken`,
// `aws_secret_access_key`, `aws_session_token`, `AWS_CONTAINER_AUTHORIZATION_TOKEN`), the SSO /
// OIDC / sign-in caches' (`accessToken`, `refreshToken`, `clientSecret`, `dpopKey`), HTTP's
// (`Authorization`, `Cookie`, `x-aws-ec2-metadata-token`), and the generic ones, also written as
// words (`secret access key`). The secret word ends the name: `web_identity_token_file` holds a
// path, `TokenExpired` is a reason, and both stay.
const secretWord = "(?:secret(?:[ _-]?access[ _-]?key)?|token|passw(?:or)?d|pwd|authorization|signature|cookie|" +
  "api[ _-]?key|private[ _-]?key|dpop[ _-]?key|credentials?[ _-]?key)"
const secretName = new RegExp(`${secretWord}$`, "i")

// A JSON member: "name": "value" (the value with its escapes), or 'name': 'value' (Python's repr).
const jsonMember = /(["'])([^"'\\]{0,200})\1(\s*:\s*)(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')/g
// name = value, name: value, name => value, name=value& (ini, env, headers, query strings, YAML),
// the name bare or quoted. The name must end in a secret word and not be the end of a URL path
// (`.../api/token: HTTP 403` is a message).
const valueChars = `"(?:[^"\\\\]|\\\\.)*"|'(?:[^'\\\\]|\\\\.)*'|[^\\s,;&}\\])]+`
const keyValue = new RegExp(
  `(?<![/\\w.-])(["']?[\\w.-]{0,200}${secretWord}["']?)(\\s*(?:=>|[=:])\\s*)(${valueChars})`,
  "gi"
)
// JSON inside a JSON string (a logger's `msg`): \"SecretAccessKey\":\"value\".
const escapedJsonMember = /(\\")([^"\\]{0,200})\\"(\s*:\s*)\\"(?:[^"\\]|\\[^"])*\\"/g
// In text we did not write, also: `--secret-access-key VALUE`, `password is VALUE`, and a field
// name written as an identifier then blanks (`aws configure set aws_secret_access_key VALUE`,
// `SecretAccessKey<TAB>VALUE`), when the value does not read as a word (`the token is expired`
// stays).
// No `i` flag here: under it the camel-case shape `[a-z]+(?:[A-Z][a-z]+)+` becomes `a+(aa+)+`,
// which backtracks exponentially; the secret word is made case-blind by hand instead.
const caseless = (pattern: string): string => pattern.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`)
const anySecretWord = caseless(secretWord)
const identifier = `(?:[A-Za-z]+(?:_[A-Za-z]+)+|[a-z]+(?:[A-Z][a-z]+)+|[A-Z][a-z]+(?:[A-Z][a-z]+)+)`
const looseValue = new RegExp(
  `(--[\\w-]*${anySecretWord}(?:\\s+|=)|\\b${anySecretWord}\\s+[iI][sS]\\s+|\\b(?=${identifier}\\b)\\w*${anySecretWord}[ \\t]+)(${valueChars})`,
  "g"
)
const wordLike = (value: string): boolean =>
  value.length < 8 || /^[a-z]+[.!]?$/.test(value) || /^[A-Z][a-z]+[.!]?$/.test(value)
// XML elements: <SecretAccessKey>value</SecretAccessKey> (STS and IMDS speak XML).
const xmlElement = new RegExp(`<((?:[\\w-]+:)?[\\w.-]{0,80}${secretWord})(\\s[^>]*)?>[^<]*</\\1>`, "gi")
// Error codes that end in a secret word (`InvalidIdentityToken: bad`, `ExpiredToken: ...`) are
// followed by the service's message, not by a secret.
const errorCode = /^["']?(?:Invalid|Expired|Missing|Bad|Malformed|Unrecognized|Unknown|Unauthorized)[A-Z]/

// Authorization schemes, with or without a field name before them.
const authSchemes = new Set(["Bearer", "Basic", "Digest", "AWS4-HMAC-SHA256", "DPoP"])
const bearer = /\b(Bearer|Basic|Digest|AWS4-HMAC-SHA256|DPoP)\s+[^\s"',;]+/g
// URLs: their userinfo (up to the authority's last `@`, spaces included: a password may hold
// one) and their query and fragment; what was removed once is not matched again.
const urlUserinfo = /\b([a-z][a-z0-9+.-]{0,20}:\/\/)[^\n/?#"']*@/gi
const removedQuery = "?<query removed>"
// (`;name=value` path parameters count as a query; a `,`, `;` or `)` before a space ends the
// URL, as in prose).
const urlQuery =
  /\b([a-z][a-z0-9+.-]{0,20}:\/\/[^\s?#;"']*)(?:[?;](?!<query removed>)|#)(?:[^\s"',;)]|[,;)](?!\s|$))*/gi

// Shapes of secrets in text we did not write: AWS secret keys (40 base64 characters), session and
// metadata tokens (long base64), SSO and OIDC tokens (JWTs, base64url), keys in hex.
const jwt = /\b[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g
const base64Run = /[A-Za-z0-9+/=_-]{32,}/g
const hexRun = /\b[0-9a-fA-F]{32,}\b/g
const looksRandom = (run: string): boolean => /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run)

/** Makes control characters, and the bidirectional overrides, visible instead of acting. */
export const escapeControls = (text: string): string =>
  text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g,
    (c) => {
      switch (c) {
        case "\n":
          return "\\n"
        case "\r":
          return "\\r"
        case "\u001b":
          return "\\e"
        default: {
          const code = c.charCodeAt(0)
          return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
        }
      }
    }
  )

/**
 * Whether a run of a secret is distinctive: letters and at least one digit or symbol. Random keys
 * and tokens are full of such runs; words (`IdentityToken`) and counters (`000000000001`) are not.
 */
const mixed = (run: string): boolean => /[A-Za-z]/.test(run) && /[^A-Za-z]/.test(run)

/** The shortest run of a secret that is cut out wherever it shows (a prefix, a line's half). */
const fragment = 12

/**
 * Cuts every secret in `secrets` out of `text`: whole, URL-encoded, or any run of at least
 * `fragment` characters of one (an echo of a token's first characters, a key split across two
 * lines). Secrets shorter than that are cut whole only.
 */
const removeSecrets = (text: string, secrets: ReadonlyArray<string>, grams = gramsOf(secrets)): string => {
  let out = text
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(redacted)
    const encoded = encodeURIComponent(secret)
    if (encoded !== secret && out.includes(encoded)) out = out.split(encoded).join(redacted)
  }
  if (grams.size === 0 || out.length < fragment) return out
  const covered = new Uint8Array(out.length)
  let any = false
  for (let i = 0; i + fragment <= out.length; i++) {
    if (grams.has(out.slice(i, i + fragment))) {
      covered.fill(1, i, i + fragment)
      any = true
    }
  }
  if (!any) return out
  let result = ""
  for (let i = 0; i < out.length; i++) {
    if (covered[i] === 0) result += out[i]
    else if (i === 0 || covered[i - 1] === 0) result += redacted
  }
  return result
}

/** The distinctive runs of `fragment` characters of each secret, as it is and URL-encoded. */
const gramsOf = (secrets: ReadonlyArray<string>): ReadonlySet<string> => {
  const grams = new Set<string>()
  for (const secret of secrets) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      for (let i = 0; i + fragment <= form.length; i++) {
        const gram = form.slice(i, i + fragment)
        if (new Set(gram).size >= 6 && mixed(gram)) grams.add(gram)
      }
    }
  }
  return grams
}

const removeKnown = (text: string): string => {
  if (known.length === 0) return text
  knownGrams ??= gramsOf(known)
  return removeSecrets(text, known, knownGrams)
}

/**
 * The field passes of `removeFields`, each with a literal its pattern cannot match without. A
 * pattern is compiled the first time it runs, which costs more than the scan (a chain's start-up
 * composes a handful of messages, most of them with none of these shapes); the guard is checked
 * on the text as the previous pass left it, so the result is the same as running them all.
 */
const fieldPasses: ReadonlyArray<readonly [guard: (text: string) => boolean, pass: (text: string) => string]> = [
  [
    (text) => [...authSchemes].some((scheme) => text.includes(scheme)),
    (text) => text.replace(bearer, (_, scheme: string) => `${scheme} ${redacted}`)
  ],
  [
    (text) => text.includes("</"),
    (text) =>
      text.replace(
        xmlElement,
        (_, name: string, attributes: string | undefined) => `<${name}${attributes ?? ""}>${redacted}</${name}>`
      )
  ],
  [
    (text) => text.includes('\\"'),
    (text) =>
      text.replace(escapedJsonMember, (all, quote: string, name: string, separator: string) =>
        secretName.test(name) ? `${quote}${name}${quote}${separator}${quote}${redacted}${quote}` : all)
  ],
  [
    (text) => text.includes(":") && (text.includes('"') || text.includes("'")),
    (text) =>
      text.replace(jsonMember, (all, quote: string, name: string, separator: string) =>
        secretName.test(name) && !errorCode.test(name) ? `${quote}${name}${quote}${separator}"${redacted}"` : all)
  ],
  [
    (text) => text.includes("=") || text.includes(":"),
    (text) =>
      text.replace(keyValue, (all, name: string, separator: string, value: string) =>
        value === redacted || value.startsWith(`"${redacted}"`) || authSchemes.has(value) || errorCode.test(name)
          ? all
          : `${name}${separator}${redacted}`)
  ],
  [(text) => text.includes("://"), (text) => text.replace(urlUserinfo, "$1").replace(urlQuery, `$1${removedQuery}`)]
]

const removeFields = (text: string): string =>
  fieldPasses.reduce((out, [guard, pass]) => guard(out) ? pass(out) : out, text)

/**
 * A CSV whose header names a secret column (the console's credentials file: `Access key
 * ID,Secret access key`): that column of every following line is cut.
 */
const removeCsvColumns = (text: string): string => {
  if (!text.includes(",")) return text
  const lines = text.split("\n")
  let secretColumns: ReadonlyArray<number> = []
  return lines.map((line) => {
    const cells = line.split(",")
    const named = cells.flatMap((cell, index) => (secretName.test(cell.trim()) ? [index] : []))
    if (named.length > 0 && cells.length > 1) {
      secretColumns = named
      return line
    }
    if (secretColumns.length === 0 || cells.length <= Math.max(...secretColumns)) return line
    return cells.map((cell, index) => (secretColumns.includes(index) && cell.trim() !== "" ? redacted : cell)).join(",")
  }).join("\n")
}

/** Cuts `text` to `max` characters, saying how many were left out. */
export const bound = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`

/**
 * A list for a message: at most `max` items, each at most 64 characters, then how many were left
 * out (`a, b, c and 99,997 more`).
 */
export const boundedList = (items: ReadonlyArray<string>, max = 20): string => {
  const shown = items.slice(0, max).map((item) => bound(item, 64)).join(", ")
  return items.length <= max ? shown : `${shown} and ${(items.length - max).toLocaleString("en-US")} more`
}

/** The longest message an error keeps (a profile value of megabytes is not printed back whole). */
export const maxMessageLength = 4096

/**
 * The last pass over a message: secret-named fields, remembered secrets, URL credentials and
 * queries removed, control characters escaped, at most `maxMessageLength` characters.
 */
export const scrubMessage = (text: string): string =>
  boundFrom(escapeControls(removeFields(removeKnown(text.slice(0, maxMessageLength + lookahead)))), maxMessageLength, text.length)

/**
 * How much more than it keeps the scrubber reads: enough that a secret across the cut is still
 * recognised as one, little enough that no pattern ever runs over megabytes.
 */
const lookahead = 256

/** Like `bound`, with the count of what was left out taken from the text before it was cut. */
const boundFrom = (text: string, max: number, originalLength: number): string =>
  originalLength <= max && text.length <= max
    ? text
    : `${text.slice(0, max)}… (${Math.max(0, originalLength - max)} more characters)`

/**
 * A value from outside as a message shows it: scrubbed, and cut to `max` characters with the
 * count of what was left out taken from the whole value (a 20 MB region says so).
 */
export const scrubValue = (text: string, max: number): string => {
  if (text.length <= max) return scrubMessage(text)
  // The scrubber sees a little more than is shown, so that a secret across the cut is still
  // recognised as one.
  const head = scrubMessage(text.slice(0, max + 256))
  return `${head.slice(0, max)}… (${text.length - max} more characters)`
}

/**
 * Text from outside (a process's stderr, a server's message, a raw value): everything
 * `scrubMessage` does, anything shaped like a secret removed, trimmed, at most `max` characters
 * (512 by default). `known` adds secrets of this call (say, the values a process printed on
 * stdout) to the remembered ones.
 */
export const scrub = (text: string, options?: { readonly max?: number; readonly known?: Iterable<string> }): string => {
  const max = options?.max ?? 512
  const thisCall = [...(options?.known ?? [])].filter((secret) => secret.length >= 8)
  const head = text.trim().slice(0, max + lookahead)
  let out = removeCsvColumns(removeFields(removeKnown(thisCall.length === 0 ? head : removeSecrets(head, thisCall))))
    .replace(looseValue, (all, lead: string, value: string) =>
      value === redacted || wordLike(value) ? all : `${lead}${redacted}`)
  out = out
    .replace(jwt, redacted)
    .replace(base64Run, (run) => (looksRandom(run) ? redacted : run))
    .replace(hexRun, redacted)
  return boundFrom(escapeControls(out.trim()), max, text.trim().length)
}

/**
 * A URL (or what was meant to be one) fit to show: without userinfo, query and fragment, and
 * otherwise scrubbed and bounded.
 */
export const displayUrl = (raw: string): string => {
  try {
    const url = new URL(raw)
    if (url.username === "" && url.password === "" && url.search === "" && url.hash === "" && !url.pathname.includes(";")) {
      return scrub(raw, { max: 200 })
    }
    url.username = ""
    url.password = ""
    url.search = ""
    url.hash = ""
    // `;name=value` path parameters carry session ids as a query does.
    url.pathname = url.pathname.replace(/;[^/]*/g, "")
    return scrub(url.toString(), { max: 200 })
  } catch {
    // Not a URL: drop everything from a userinfo's end and from a query on, by hand.
    const withoutUserinfo = raw.trim().replace(/^([^:/?#\s]*:\/\/)[^/?#]*@/, "$1")
    return scrub(withoutUserinfo.replace(/[?#;].*$/s, ""), { max: 200 })
  }
}
