import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { Ctx, ErrorNote, ProjectPicker } from '../app';
import { fmtTime } from '../format';
import { href, navigate } from '../router';
import { RecordDrawer } from './record-drawer';
import { VirtualRows } from './virtual-rows';

/** The most rows "load all" fetches (1000 a request, the API's page bound). */
const ALL = 10_000;

const FILTERS = ['secret', 'principal', 'pipeline', 'decision', 'channel', 'from', 'to'] as const;
const RANGES: Record<string, number> = { '1h': 3600, '24h': 86400, '7d': 7 * 86400, '30d': 30 * 86400 };

/** The filters of the URL, with a relative range turned into `from` at the moment of the query. */
function filterOf(params: URLSearchParams): api.HistoryFilter {
  const f: api.HistoryFilter = {};
  for (const k of FILTERS) {
    const v = params.get(k);
    if (v) f[k] = v;
  }
  const range = params.get('range');
  if (range && RANGES[range]) f.from = new Date(Date.now() - RANGES[range] * 1000).toISOString();
  return f;
}

export function HistoryScreen({ ctx }: { ctx: Ctx }) {
  const p = ctx.params;
  const project = ctx.project!;
  const [rows, setRows] = useState<api.HistoryItem[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const utc = p.get('tz') !== 'local';
  const selected = p.get('event');
  const filter = filterOf(p);
  const key = `${project}|${JSON.stringify(filter)}`;

  useEffect(() => {
    setRows([]);
    setNext(null);
    setError(null);
    setLoading(true);
    api.history(project, filter).then(
      (r) => {
        setRows(r.items);
        setNext(r.nextCursor);
        setLoading(false);
      },
      (e) => {
        setError(e);
        setLoading(false);
      },
    );
  }, [key]);

  const more = async () => {
    if (!next) return;
    setLoading(true);
    try {
      const r = await api.history(project, filter, next);
      setRows((old) => [...old, ...r.items]);
      setNext(r.nextCursor);
    } catch (e) {
      setError(e);
    }
    setLoading(false);
  };

  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const q: Record<string, string | undefined> = { project };
    for (const [k, v] of form.entries()) if (typeof v === 'string' && v.trim() !== '') q[k] = v.trim();
    if (q.range && q.range !== 'custom') delete q.from;
    if (q.range === 'custom' || q.range === 'any') delete q.range;
    navigate(href('history', q));
  };
  const open = (eventId: string | null) => {
    const u = new URLSearchParams(p);
    if (eventId) u.set('event', eventId);
    else u.delete('event');
    navigate(`${location.pathname}?${u.toString()}`);
  };
  const exportFilter: api.HistoryFilter = filter;
  const loadAll = async () => {
    setLoading(true);
    try {
      let all = rows;
      let cursor = next;
      while (cursor && all.length < ALL) {
        const r = await api.history(project, filter, cursor, Math.min(1000, ALL - all.length));
        all = [...all, ...r.items];
        cursor = r.nextCursor;
      }
      setRows(all);
      setNext(cursor);
    } catch (e) {
      setError(e);
    }
    setLoading(false);
  };

  return (
    <>
      <h1>Access history</h1>
      <ProjectPicker ctx={ctx} screen="access history" needs="read-audit" />
      <form class="filters" onSubmit={apply} aria-label="Filter access history">
        <label>Secret <input name="secret" defaultValue={p.get('secret') ?? ''} placeholder="DB_PASSWORD" /></label>
        <label>Principal <input name="principal" defaultValue={p.get('principal') ?? ''} /></label>
        <label>Pipeline <input name="pipeline" defaultValue={p.get('pipeline') ?? ''} /></label>
        <label>
          Decision
          <select name="decision" defaultValue={p.get('decision') ?? ''}>
            <option value="">any</option>
            <option value="allowed">allowed</option>
            <option value="denied">denied</option>
          </select>
        </label>
        <label>
          Channel
          <select name="channel" defaultValue={p.get('channel') ?? ''}>
            <option value="">any</option>
            <option value="api">API</option>
            <option value="openbao">OpenBao direct</option>
          </select>
        </label>
        <label>
          Range
          <select name="range" defaultValue={p.get('range') ?? 'any'}>
            <option value="any">any time / custom</option>
            <option value="1h">last hour</option>
            <option value="24h">last 24 hours</option>
            <option value="7d">last 7 days</option>
            <option value="30d">last 30 days</option>
          </select>
        </label>
        <label>From (RFC 3339) <input name="from" defaultValue={p.get('from') ?? ''} placeholder="2026-01-31T00:00:00Z" /></label>
        <label>To (RFC 3339) <input name="to" defaultValue={p.get('to') ?? ''} /></label>
        <label>
          Times in
          <select name="tz" defaultValue={utc ? 'utc' : 'local'}>
            <option value="utc">UTC</option>
            <option value="local">local time</option>
          </select>
        </label>
        <button type="submit">Apply filters</button>
      </form>
      <p class="exports">
        Export this view: <a href={api.historyExportUrl(project, exportFilter, 'csv')} download>CSV</a> ·{' '}
        <a href={api.historyExportUrl(project, exportFilter, 'ndjson')} download>NDJSON</a>
      </p>
      <ErrorNote error={error} />
      {rows.length > 200 ? (
        <VirtualRows rows={rows} utc={utc} onOpen={open} />
      ) : (
        <table class="history">
          <caption>
            {rows.length} access decision{rows.length === 1 ? '' : 's'} shown{next ? ' (more available)' : ''}, newest first
          </caption>
          <thead>
            <tr>
              <th scope="col">When ({utc ? 'UTC' : 'local'})</th>
              <th scope="col">Secret</th>
              <th scope="col">Principal</th>
              <th scope="col">Decision</th>
              <th scope="col">Channel</th>
              <th scope="col">Record</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.eventId}>
                <td>{fmtTime(r.occurredAt, utc)}</td>
                <td>{r.secret ?? '—'}</td>
                <td>{r.principal.type}:{r.principal.id}{r.principal.pipelineId ? ` (pipeline ${r.principal.pipelineId})` : ''}</td>
                <td class={r.decision}>{r.decision}{r.reason ? ` (${r.reason})` : ''}</td>
                <td>{r.channel}</td>
                <td>
                  <button type="button" onClick={() => open(r.eventId)} aria-label={`Open record of ${r.secret ?? 'project'} ${r.decision} for ${r.principal.id} at ${fmtTime(r.occurredAt, utc)}`}>
                    Open
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {loading && <p aria-live="polite">Loading…</p>}
      {next && !loading && (
        <p>
          <button type="button" onClick={() => void more()}>Load more</button>{' '}
          <button type="button" onClick={() => void loadAll()}>Load all matching rows (up to {ALL.toLocaleString('en')})</button>
        </p>
      )}
      {selected && <RecordDrawer project={project} item={rows.find((r) => r.eventId === selected) ?? null} eventId={selected} onClose={() => open(null)} />}
    </>
  );
}
