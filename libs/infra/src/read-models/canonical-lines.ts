/** One line of JSON per row, keys sorted, timestamps as ISO strings: equal rows give equal bytes. */
export function canonicalJsonLines(rows: readonly unknown[]): string[] {
  const norm = (v: unknown): unknown => {
    if (v instanceof Date) return v.toISOString();
    if (typeof v === 'bigint') return v.toString();
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, norm((v as Record<string, unknown>)[k])]));
    return v;
  };
  return rows.map((r) => JSON.stringify(norm(r)));
}
