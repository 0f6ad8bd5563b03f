/**
 * Timestamps as credential sources write them: ISO 8601 / RFC 3339 with a time zone
 * (`2026-11-29T10:00:00Z`, `2026-11-29T10:00:00.000+01:00`). A timestamp without a zone is
 * read as UTC, as botocore does.
 */
import * as DateTime from "effect/DateTime"
import * as Option from "effect/Option"

const iso8601 =
  /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/

export const parseTimestamp = (text: string): Option.Option<DateTime.Utc> => {
  const trimmed = text.trim()
  if (!iso8601.test(trimmed)) return Option.none()
  const hasZone = /([Zz]|[+-]\d{2}:?\d{2})$/.test(trimmed)
  const normalized = hasZone ? trimmed : `${trimmed}Z`
  return DateTime.make(normalized.replace(" ", "T")).pipe(Option.map(DateTime.toUtc))
}
