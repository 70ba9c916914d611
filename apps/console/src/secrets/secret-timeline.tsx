import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorNote } from '../app';
import { fmtTime } from '../format';

const show = (v: unknown) => (v === null || v === undefined ? 'none' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v));
const FIELD: Record<string, string> = { description: 'description', environment: 'environment', branch: 'branch', protectedOnly: 'protected refs only', rotationIntervalDays: 'rotation interval (days)' };

const WHAT: Record<api.SecretHistoryItem['type'], string> = {
  SecretCreated: 'created',
  SecretValueUpdated: 'new value version',
  SecretMetadataChanged: 'metadata changed',
  SecretDeleted: 'deleted',
  SecretRotationOverdue: 'rotation overdue',
  RoleGranted: 'grant made',
  RoleRevoked: 'grant revoked',
  RoleExpired: 'grant expired',
};

/** The entry in words: what the API answered, nothing computed here. */
export function describe(i: api.SecretHistoryItem): string {
  const parts: string[] = [];
  if (i.version !== undefined) parts.push(`version ${i.version}`);
  for (const [k, c] of Object.entries(i.changes)) parts.push(i.type === 'SecretCreated' ? `${FIELD[k] ?? k}: ${show(c.to)}` : `${FIELD[k] ?? k}: ${show(c.from)} → ${show(c.to)}`);
  const g = i.grant;
  if (g) {
    parts.push(`${g.principal.type} ${g.principal.id} as ${g.role}`);
    if (g.environment) parts.push(`environment ${g.environment}`);
    if (g.branch) parts.push(`branch ${g.branch}`);
    if (g.expiresAt) parts.push(`expires ${fmtTime(g.expiresAt)}`);
    if (g.accessRequestId) parts.push(`from access request ${g.accessRequestId}`);
    if (g.breakGlass) parts.push('break-glass');
    if (g.principal.type === 'group') parts.push('inherited by the group\'s members');
  }
  return parts.join('; ') || '—';
}

/**
 * A secret's history from GET …/secrets/{name}/history, newest first, older pages on demand.
 * `within`: only entries in (from, to] are shown (the two instants a reviewer compares).
 */
export function SecretTimeline({ project, name, kind, caption, within }: { project: string; name: string; kind: 'metadata' | 'readers'; caption: string; within?: { from: string; to: string } }) {
  const [items, setItems] = useState<api.SecretHistoryItem[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setItems(null);
    setNext(null);
    setError(null);
    api.secretHistory(project, name, kind).then((r) => {
      setItems(r.items);
      setNext(r.nextCursor);
    }, setError);
  }, [project, name, kind]);
  const more = () =>
    next &&
    api.secretHistory(project, name, kind, next).then((r) => {
      setItems((old) => [...(old ?? []), ...r.items]);
      setNext(r.nextCursor);
    }, setError);
  const from = within ? Date.parse(within.from) : NaN;
  const to = within ? Date.parse(within.to) : NaN;
  const shown = within ? (items ?? []).filter((i) => Date.parse(i.at) > from && Date.parse(i.at) <= to) : (items ?? []);
  return (
    <>
      <ErrorNote error={error} />
      {items && (
          <table>
            <caption>{caption}</caption>
            <thead>
              <tr><th scope="col">When (UTC)</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Details</th></tr>
            </thead>
            <tbody>
              {shown.length === 0 && <tr><td colSpan={4}>No entries{within ? ' in this range' : ''}.</td></tr>}
              {shown.map((i, n) => (
                <tr key={`${i.at}-${i.type}-${n}`}>
                  <td>{fmtTime(i.at)}</td>
                  <td>{WHAT[i.type] ?? i.type}</td>
                  <td>{`${i.actor.type} ${i.actor.id}`}</td>
                  <td>{describe(i)}</td>
                </tr>
              ))}
            </tbody>
          </table>
      )}
      {next && <button type="button" onClick={more}>Load older entries of {name}</button>}
    </>
  );
}
