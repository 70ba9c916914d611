import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { Ctx, ErrorNote, ProjectPicker } from '../app';
import { fmtTime } from '../format';
import { href, onLinkClick } from '../router';
import { ScopeTester } from './scope-tester';
import { SecretTimeline } from './secret-timeline';

/** Secrets' metadata and rotation status — never values (the API client has no call returning one). */
export function Secrets({ ctx }: { ctx: Ctx }) {
  const project = ctx.project!;
  const [items, setItems] = useState<api.SecretMeta[] | null>(null);
  const [dash, setDash] = useState<{ projectId: string; overdue: number; approaching: number }[]>([]);
  const [error, setError] = useState<unknown>(null);
  // Metadata history is a reviewer's query (read-audit), as the API says.
  const reviewer = ctx.me.projects.some((p) => p.projectId === project && p.actions.includes('read-audit'));
  const historyOf = ctx.params.get('history') ?? '';
  useEffect(() => {
    api.secrets(project).then((r) => setItems(r.items), setError);
  }, [project]);
  useEffect(() => {
    Promise.all(
      ctx.me.projects.filter((p) => p.actions.includes('list')).map(async (p) => {
        const all = (await api.secrets(p.projectId)).items;
        return { projectId: p.projectId, overdue: all.filter((s) => s.rotation?.status === 'overdue').length, approaching: all.filter((s) => s.rotation?.status === 'approaching').length };
      }),
    ).then(setDash, setError);
  }, [ctx.me]);
  return (
    <>
      <h1>Secrets</h1>
      <ProjectPicker ctx={ctx} screen="secrets" needs="list" />
      <ErrorNote error={error} />
      <table>
        <caption>Secrets of {project} (metadata only)</caption>
        <thead>
          <tr><th scope="col">Name</th><th scope="col">Scope</th><th scope="col">Version</th><th scope="col">Updated</th><th scope="col">Rotation</th>{reviewer && <th scope="col">History</th>}</tr>
        </thead>
        <tbody>
          {items?.map((s) => (
            <tr key={s.name}>
              <td>{s.name}</td>
              <td>{[s.environment && `env ${s.environment}`, s.branch && `branch ${s.branch}`, s.protectedOnly && 'protected refs only'].filter(Boolean).join(', ') || 'every job of the project'}</td>
              <td>{s.version}</td>
              <td>{fmtTime(s.updatedAt)}</td>
              <td class={s.rotation?.status}>{s.rotation ? `${s.rotation.status} (due ${fmtTime(s.rotation.dueAt)})` : 'no interval'}</td>
              {reviewer && (
                <td>
                  {/* aria-label, not an sr-only span: an absolutely positioned span escapes the table's scroll box at 390 px. */}
                  <a href={href('secrets', { project, history: s.name })} onClick={onLinkClick} aria-label={`History of ${s.name}`} aria-current={historyOf === s.name ? 'true' : undefined}>
                    History
                  </a>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {reviewer && historyOf && (
        <section aria-labelledby="secret-history-title">
          <h2 id="secret-history-title">Metadata history of {historyOf}</h2>
          <p>Creation, scope, description and rotation changes, value versions (never values) and deletion, with who and when.</p>
          <SecretTimeline project={project} name={historyOf} kind="metadata" caption={`Metadata history of ${historyOf}, newest first`} />
        </section>
      )}
      {items && items.length > 0 && <ScopeTester project={project} names={items.map((s) => s.name)} />}
      <table>
        <caption>Rotation across your projects</caption>
        <thead><tr><th scope="col">Project</th><th scope="col">Overdue</th><th scope="col">Approaching</th></tr></thead>
        <tbody>{dash.map((d) => <tr key={d.projectId}><td>{d.projectId}</td><td>{d.overdue}</td><td>{d.approaching}</td></tr>)}</tbody>
      </table>
    </>
  );
}
