import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { Ctx, ErrorNote, ProjectPicker } from '../app';
import { href, navigate } from '../router';
import { SecretTimeline } from '../secrets/secret-timeline';

const keyOf = (r: api.Reader) => (r.principal.type === 'ci-scope' ? `CI jobs of ${r.principal.projectId ?? ''}` : `${r.principal.type}:${r.principal.id ?? r.principal.projectId ?? ''}`);
const why = (r: api.Reader) => {
  const v = r.via as Record<string, unknown>;
  if (v.grantId) return `grant ${String(v.grantId)} (${String(v.role)}${v.accessRequestId ? ', from an access request' : ''}${v.breakGlass ? ', break-glass' : ''})`;
  if (v.rule === 'ci-job-scope') return 'CI jobs of the project whose ref and environment match the secret\'s scope';
  return JSON.stringify(v);
};

/** Who could read a secret at an instant, and what changed between two instants (gained / lost, and why). */
export function Readers({ ctx }: { ctx: Ctx }) {
  const project = ctx.project!;
  const p = ctx.params;
  const secret = p.get('secret') ?? '';
  const at = p.get('at') ?? '';
  const before = p.get('before') ?? '';
  const [names, setNames] = useState<string[]>([]);
  const [now, setNow] = useState<api.Reader[] | null>(null);
  const [then, setThen] = useState<api.Reader[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.secrets(project).then((r) => setNames(r.items.map((s) => s.name)), setError);
  }, [project]);
  useEffect(() => {
    setNow(null);
    setThen(null);
    if (!secret) return;
    api.readers(project, secret, at || new Date().toISOString()).then((r) => setNow(r.readers), setError);
    if (before) api.readers(project, secret, before).then((r) => setThen(r.readers), setError);
  }, [project, secret, at, before]);

  const submit = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    navigate(href('readers', { project, secret: String(f.get('secret') ?? ''), at: String(f.get('at') ?? '').trim(), before: String(f.get('before') ?? '').trim() }));
  };
  const gained = now && then ? now.filter((r) => !then.some((x) => keyOf(x) === keyOf(r))) : [];
  const lost = now && then ? then.filter((r) => !now.some((x) => keyOf(x) === keyOf(r))) : [];

  return (
    <>
      <h1>Who could read it</h1>
      <ProjectPicker ctx={ctx} screen="who could read it" needs="read-audit" />
      <form class="filters" onSubmit={submit} aria-label="Choose a secret and instants">
        <label>Secret <select name="secret" defaultValue={secret} required><option value="">choose…</option>{names.map((n) => <option key={n} value={n}>{n}</option>)}</select></label>
        <label>At (RFC 3339, empty = now) <input name="at" defaultValue={at} /></label>
        <label>Compare with an earlier instant (RFC 3339, optional) <input name="before" defaultValue={before} /></label>
        <button type="submit">Show readers</button>
      </form>
      <ErrorNote error={error} />
      {now && (
        <table>
          <caption>Readers of {secret} at {at || 'now'}</caption>
          <thead><tr><th scope="col">Principal</th><th scope="col">Through</th></tr></thead>
          <tbody>{now.map((r) => <tr key={keyOf(r)}><td>{keyOf(r)}</td><td>{why(r)}</td></tr>)}</tbody>
        </table>
      )}
      {now && then && (
        <section aria-labelledby="diff-title">
          <h2 id="diff-title">Changes since {before}</h2>
          <p>Gained: {gained.length === 0 ? 'nobody' : gained.map((r) => `${keyOf(r)} through ${why(r)}`).join('; ')}</p>
          <p>Lost: {lost.length === 0 ? 'nobody' : lost.map((r) => `${keyOf(r)} (had ${why(r)})`).join('; ')}</p>
          <SecretTimeline project={project} name={secret} kind="readers" caption={`Why: grants and scope changes of ${secret} after ${before} up to ${at || 'now'}`} within={{ from: before, to: at || new Date().toISOString() }} />
        </section>
      )}
      {secret && (
        <section aria-labelledby="timeline-title">
          <h2 id="timeline-title">Timeline of {secret}'s grants and scope changes</h2>
          <p>Grants that could read it (made, revoked, expired; from an access request, break-glass or a group) and its creation, scope changes and deletion, newest first.</p>
          <SecretTimeline project={project} name={secret} kind="readers" caption={`Grants and scope changes of ${secret}, newest first`} />
        </section>
      )}
    </>
  );
}
