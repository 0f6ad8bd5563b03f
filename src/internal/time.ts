/**
 * Timestamps as credential sources write them: ISO 8601 / RFC 3339 with a time zone
 * (`2026-11-29T10:00:00Z`, `2026-11-29T10:00:00.000+01:00`). A timestamp without a zone is
 * read as UTC, as botocore does.
 */
import * as DateTime from "effect/DateTime"
import * as Option from "effect/Option"

const iso8601 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(:(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/

const daysIn = (year: number, month: number): number =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31

/**
 * The timestamp, or `None` when it is not one. Impossible dates and times (`2030-02-30`,
 * `25:00`) are refused rather than rolled over, as JavaScript's `Date` would (to March 2nd).
 */
export const parseTimestamp = (text: string): Option.Option<DateTime.Utc> => {
  const trimmed = text.trim()
  const parts = iso8601.exec(trimmed)
  if (parts === null) return Option.none()
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(parts[i]))
  const second = parts[7] === undefined ? 0 : Number(parts[7])
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysIn(year!, month!)) return Option.none()
  if (hour! > 23 || minute! > 59 || second > 59) return Option.none()
  const hasZone = /([Zz]|[+-]\d{2}:?\d{2})$/.test(trimmed)
  const normalized = hasZone ? trimmed : `${trimmed}Z`
  return DateTime.make(normalized.replace(" ", "T")).pipe(Option.map(DateTime.toUtc))
}
