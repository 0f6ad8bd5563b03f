/**
 * A tracer that records every span's name and attributes, to check what a trace would show
 * (for instance that no header or attribute carries a token).
 */
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

export interface RecordedSpan {
  readonly name: string
  readonly parent: string | undefined
  readonly attributes: Map<string, unknown>
  /** Events (an exception recorded on the span, say) with their attributes. */
  readonly events: Array<{ readonly name: string; readonly attributes: Record<string, unknown> | undefined }>
}

export const recordingTracer = (): { readonly spans: Array<RecordedSpan>; readonly tracer: Tracer.Tracer } => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      const attributes = new Map<string, unknown>(Object.entries(options?.attributes ?? {}))
      const events: RecordedSpan["events"] = []
      spans.push({
        events,
        name,
        parent: Option.match(parent, {
          onNone: () => undefined,
          onSome: (p) => (p._tag === "Span" ? p.name : undefined)
        }),
        attributes
      })
      return {
        _tag: "Span",
        name,
        spanId: String(spans.length),
        traceId: "trace",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        end: () => {},
        attribute: (key, value) => {
          attributes.set(key, value)
        },
        event: (name, _startTime, eventAttributes) => {
          events.push({ name, attributes: eventAttributes })
        },
        addLinks: () => {}
      }
    },
    context: (f) => f()
  })
  return { spans, tracer }
}

/** Every span rendered as text: names and attributes. */
export const renderSpans = (spans: ReadonlyArray<RecordedSpan>): string =>
  spans.map((span) =>
    `${span.name} ${JSON.stringify(Object.fromEntries(span.attributes))}${
      span.events.map((event) => ` ${event.name} ${JSON.stringify(event.attributes ?? {})}`).join("")
    }`
  ).join("\n")
