/** Timestamps shown in UTC or the browser's zone (a toggle on the history screen). */
export function fmtTime(iso: string | null | undefined, utc = true): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  if (utc) return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return d.toLocaleString();
}
export function ago(iso: string): string {
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
