import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { Ctx, ErrorNote, ProjectPicker } from '../app';
import { fmtTime } from '../format';

const ROLES = ['reporter', 'developer', 'maintainer', 'owner', 'auditor', 'break-glass'];

/** Grants with expiry and origin; grant and revoke for owners. */
export function Grants({ ctx }: { ctx: Ctx }) {
  const project = ctx.project!;
  const [items, setItems] = useState<api.Grant[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    api.grants(project).then((r) => setItems(r.items), setError);
  }, [project, tick]);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const s = (k: string) => String(f.get(k) ?? '').trim() || undefined;
    try {
      const r = await api.createGrant(project, { principal: { type: s('ptype') === 'group' ? 'group' : 'user', id: s('pid') ?? '' }, role: s('role') ?? 'reporter', environment: s('environment'), branch: s('branch'), expiresAt: s('expiresAt') });
      setStatus(`Granted: ${r.grantId}`);
      (e.currentTarget as HTMLFormElement).reset();
      setTick((t) => t + 1);
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (g: api.Grant) => {
    setError(null);
    try {
      await api.revokeGrant(project, g.grantId);
      setStatus(`Revoked ${g.role} of ${g.principal.id}`);
      setTick((t) => t + 1);
    } catch (err) {
      setError(err instanceof api.ApiError && err.conflict ? new Error('Someone changed this first: the list is reloaded.') : err);
      setTick((t) => t + 1);
    }
  };
  const active = items?.filter((g) => g.status === 'active') ?? [];

  return (
    <>
      <h1>Grants</h1>
      <ProjectPicker ctx={ctx} screen="grants" needs="manage-grants" />
      <ErrorNote error={error} />
      {status && <p role="status">{status}</p>}
      <table>
        <caption>Grants in force on {project}</caption>
        <thead>
          <tr><th scope="col">Principal</th><th scope="col">Role</th><th scope="col">Scope</th><th scope="col">Expires</th><th scope="col">Origin</th><th scope="col">Action</th></tr>
        </thead>
        <tbody>
          {active.map((g) => (
            <tr key={g.grantId}>
              <td>{g.principal.type}:{g.principal.id}</td>
              <td>{g.role}</td>
              <td>{[g.environment && `env ${g.environment}`, g.branch && `branch ${g.branch}`].filter(Boolean).join(', ') || 'all'}</td>
              <td>{g.expiresAt ? fmtTime(g.expiresAt) : 'never'}</td>
              <td>{g.breakGlass ? 'break-glass' : g.accessRequestId ? 'access request' : `granted by ${g.grantedBy}`}</td>
              <td><button type="button" onClick={() => void revoke(g)}>Revoke {g.role} of {g.principal.id}</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="grant" onSubmit={create} aria-labelledby="grant-title">
        <h2 id="grant-title">Grant a role</h2>
        <label>Principal type <select name="ptype"><option value="user">user</option><option value="group">group</option></select></label>
        <label>Principal id <input name="pid" required /></label>
        <label>Role <select name="role">{ROLES.map((r) => <option key={r} value={r}>{r}</option>)}</select></label>
        <label>Environment glob (optional) <input name="environment" /></label>
        <label>Branch glob (optional) <input name="branch" /></label>
        <label>Expires at (RFC 3339, optional) <input name="expiresAt" /></label>
        <button type="submit">Grant</button>
      </form>
    </>
  );
}
