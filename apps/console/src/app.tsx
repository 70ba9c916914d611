import { useEffect, useState } from 'preact/hooks';
import * as api from './api';
import { href, onLinkClick, useRoute } from './router';
import { SignIn } from './signin/sign-in';
import { Home } from './home/home';
import { HistoryScreen } from './history/history';
import { Approvals } from './approvals/approvals';
import { Grants } from './grants/grants';
import { Readers } from './readers/readers';
import { Secrets } from './secrets/secrets';
import { Integrity } from './integrity/integrity';
import { Tail } from './tail/tail';

const SCREENS: { id: string; label: string; needs?: api.Action }[] = [
  { id: 'home', label: 'Home' },
  { id: 'history', label: 'Access history', needs: 'read-audit' },
  { id: 'approvals', label: 'Approvals' },
  { id: 'grants', label: 'Grants', needs: 'manage-grants' },
  { id: 'readers', label: 'Who could read it', needs: 'read-audit' },
  { id: 'secrets', label: 'Secrets', needs: 'list' },
  { id: 'integrity', label: 'Integrity', needs: 'read-audit' },
  { id: 'tail', label: 'Live audit', needs: 'read-audit' },
];

export interface Ctx {
  me: api.Me;
  session: api.Session;
  project: string | undefined;
  params: URLSearchParams;
  /** Sign in again (approvals need a recent sign-in); resolves when done. */
  refreshSession(): Promise<void>;
}

export function App() {
  const [session, setSession] = useState<api.Session | null>(null);
  const [me, setMe] = useState<api.Me | null>(null);
  const [error, setError] = useState<string | null>(null);
  const route = useRoute();

  const load = async () => {
    try {
      const s = await api.session();
      setSession(s);
      setMe(s.signedIn ? await api.me() : null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => void load(), []);

  if (error) return <main id="main"><h1>Console</h1><p role="alert">Could not reach the service: {error}</p></main>;
  if (!session) return <main id="main" aria-busy="true"><h1>Console</h1><p>Loading…</p></main>;
  if (!session.signedIn || !me) return <SignIn methods={session.methods} onDone={load} />;

  // Only what the user can do: a screen shows when some project gives its action (any project for Approvals).
  const allowed = (a?: api.Action, id?: string) => (id === 'home' ? true : a === undefined ? me.projects.length > 0 : me.projects.some((p) => p.actions.includes(a)));
  // A project in the URL counts only if it is one of the user's (a link from someone else may name any).
  const asked = route.params.get('project');
  const project = me.projects.some((p) => p.projectId === asked) ? asked! : me.projects[0]?.projectId;
  const ctx: Ctx = { me, session, project, params: route.params, refreshSession: load };
  const screen = SCREENS.find((s) => s.id === route.screen && allowed(s.needs, s.id)) ?? SCREENS[0];

  const out = async () => {
    await api.signOut();
    setMe(null);
    await load();
  };

  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">Pipeline secrets</span>
        <nav aria-label="Screens">
          <ul>
            {SCREENS.filter((s) => allowed(s.needs, s.id)).map((s) => (
              <li key={s.id}>
                <a href={href(s.id, { project })} onClick={onLinkClick} aria-current={s.id === screen.id ? 'page' : undefined}>
                  {s.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          Signed in as <strong>{me.principal.id}</strong>
          <button type="button" onClick={() => void out()}>Sign out</button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {screen.id === 'home' && <Home ctx={ctx} />}
        {screen.id === 'history' && <HistoryScreen ctx={ctx} />}
        {screen.id === 'approvals' && <Approvals ctx={ctx} />}
        {screen.id === 'grants' && <Grants ctx={ctx} />}
        {screen.id === 'readers' && <Readers ctx={ctx} />}
        {screen.id === 'secrets' && <Secrets ctx={ctx} />}
        {screen.id === 'integrity' && <Integrity ctx={ctx} />}
        {screen.id === 'tail' && <Tail ctx={ctx} />}
      </main>
    </>
  );
}

/** The project picker every project screen shows (only projects where the user has `needs`). */
export function ProjectPicker({ ctx, screen, needs }: { ctx: Ctx; screen: string; needs?: api.Action }) {
  const projects = ctx.me.projects.filter((p) => needs === undefined || p.actions.includes(needs));
  if (projects.length === 0) return <p>You have no project where this applies.</p>;
  return (
    <label class="picker">
      Project{' '}
      <select
        value={ctx.project}
        onChange={(e) => {
          const u = new URL(location.href);
          u.searchParams.set('project', (e.currentTarget as HTMLSelectElement).value);
          history.pushState(null, '', `${u.pathname}?project=${encodeURIComponent(u.searchParams.get('project')!)}`);
          dispatchEvent(new Event('console:navigate'));
        }}
      >
        {projects.map((p) => (
          <option key={p.projectId} value={p.projectId}>{p.projectId}</option>
        ))}
      </select>
      <span class="sr-only"> ({screen})</span>
    </label>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const msg = error instanceof api.ApiError ? `${error.problem.title}: ${error.problem.detail ?? ''}` : String((error as Error).message ?? error);
  return <p role="alert" class="error">{msg}</p>;
}
