import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { Ctx, ErrorNote } from '../app';
import { href, onLinkClick } from '../router';

interface Waiting {
  projectId: string;
  pending: number | null;
  breakGlass: number | null;
  overdue: string[] | null;
}

/** Where the user may act (/v1/me), and what waits for them there. */
export function Home({ ctx }: { ctx: Ctx }) {
  const [waiting, setWaiting] = useState<Waiting[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    Promise.all(
      ctx.me.projects.map(async (p): Promise<Waiting> => {
        const can = (a: api.Action) => p.actions.includes(a);
        const [pending, bg, overdue] = await Promise.all([
          can('manage-grants') ? api.allPendingRequests(p.projectId).then((items) => items.filter((i) => i.requester.id !== ctx.me.principal.id).length) : null,
          can('manage-grants') || can('read-audit') ? api.breakGlasses(p.projectId, false).then((r) => r.items.length) : null,
          can('list') ? api.secrets(p.projectId, 'overdue').then((r) => r.items.map((s) => s.name)) : null,
        ]);
        return { projectId: p.projectId, pending, breakGlass: bg, overdue };
      }),
    ).then(setWaiting, setError);
  }, [ctx.me]);

  return (
    <>
      <h1>Home</h1>
      <ErrorNote error={error} />
      {ctx.me.projects.length === 0 ? (
        <p>You hold no grant on any project yet. Ask a project owner, or request access with the API.</p>
      ) : (
        <table>
          <caption>Your projects and what waits for you</caption>
          <thead>
            <tr>
              <th scope="col">Project</th>
              <th scope="col">Your actions</th>
              <th scope="col">Requests to decide</th>
              <th scope="col">Break-glass to review</th>
              <th scope="col">Overdue rotations</th>
            </tr>
          </thead>
          <tbody>
            {ctx.me.projects.map((p) => {
              const w = waiting?.find((x) => x.projectId === p.projectId);
              return (
                <tr key={p.projectId}>
                  <th scope="row">{p.projectId}</th>
                  <td>{p.actions.join(', ')}</td>
                  <td>{w?.pending == null ? '—' : <a href={href('approvals', { project: p.projectId })} onClick={onLinkClick}>{w.pending} pending</a>}</td>
                  <td>{w?.breakGlass == null ? '—' : <a href={href('approvals', { project: p.projectId })} onClick={onLinkClick}>{w.breakGlass} to review</a>}</td>
                  <td>{w?.overdue == null ? '—' : w.overdue.length === 0 ? 'none' : <a href={href('secrets', { project: p.projectId })} onClick={onLinkClick}>{w.overdue.join(', ')}</a>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {ctx.me.groups.length > 0 && (
        <table>
          <caption>Your groups</caption>
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">Your actions (on the group and everything below it)</th>
            </tr>
          </thead>
          <tbody>
            {ctx.me.groups.map((g) => (
              <tr key={g.groupId}>
                <th scope="row">{g.groupId}</th>
                <td>{g.actions.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
