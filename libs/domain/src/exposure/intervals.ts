// Sets of instants as sorted, disjoint, half-open intervals [from, to) in ms since the epoch
// (`to` = Infinity: still open). Small and exact: exposure is a union/intersection of a few
// intervals per grant, secret version and membership.

export interface Span {
  from: number;
  to: number;
}
export type SpanSet = readonly Span[];

export const EMPTY: SpanSet = [];

export function span(from: number, to: number): SpanSet {
  return from < to ? [{ from, to }] : EMPTY;
}

/** From RFC 3339 strings; `to` null = open. */
export function spanOf(from: string, to: string | null): SpanSet {
  return span(Date.parse(from), to === null ? Infinity : Date.parse(to));
}

export function union(...sets: SpanSet[]): SpanSet {
  const all = sets.flat().filter((s) => s.from < s.to).sort((a, b) => a.from - b.from || a.to - b.to);
  const out: Span[] = [];
  for (const s of all) {
    const last = out[out.length - 1];
    if (last && s.from <= last.to) last.to = Math.max(last.to, s.to);
    else out.push({ ...s });
  }
  return out;
}

export function intersect(a: SpanSet, b: SpanSet): SpanSet {
  const out: Span[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const from = Math.max(a[i].from, b[j].from);
    const to = Math.min(a[i].to, b[j].to);
    if (from < to) out.push({ from, to });
    if (a[i].to < b[j].to) i++;
    else j++;
  }
  return out;
}

export function isEmpty(s: SpanSet): boolean {
  return s.length === 0;
}

export function toIso(s: SpanSet): { from: string; to: string }[] {
  // Every set handed out is cut to the report's window first, so `to` is finite here.
  return s.map((x) => ({ from: new Date(x.from).toISOString(), to: new Date(x.to).toISOString() }));
}
