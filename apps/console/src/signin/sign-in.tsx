import { useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorNote } from '../app';

/** Sign-in: the OpenID Connect button where configured; the development form where DEV_ISSUER=1, labelled as such. */
export function SignIn({ methods, onDone, reauthFor }: { methods: api.Session['methods']; onDone: () => void; reauthFor?: string }) {
  const [sub, setSub] = useState(reauthFor ?? '');
  const [groups, setGroups] = useState('');
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await api.devSignIn(sub.trim(), groups.split(',').map((g) => g.trim()).filter(Boolean));
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  const Wrapper = reauthFor ? 'section' : 'main';
  return (
    <Wrapper id={reauthFor ? undefined : 'main'} class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">{reauthFor ? 'Sign in again to continue' : 'Sign in to the console'}</h1>
      {methods.oidc && (
        <p>
          <a class="button" href={api.oidcSignInUrl(reauthFor !== undefined)}>Sign in with your organisation</a>
        </p>
      )}
      {methods.dev && (
        <form onSubmit={submit} aria-describedby="dev-warning">
          <h2>Development sign-in</h2>
          <p id="dev-warning" class="warning">Development only: this form trusts the name you type (embedded profile or DEV_ISSUER=1). Production uses your organisation's sign-in.</p>
          <label>
            User id
            <input name="sub" required autoComplete="username" value={sub} readOnly={reauthFor !== undefined} onInput={(e) => setSub((e.currentTarget as HTMLInputElement).value)} />
          </label>
          <label>
            Groups (comma-separated, optional)
            <input name="groups" value={groups} onInput={(e) => setGroups((e.currentTarget as HTMLInputElement).value)} />
          </label>
          <button type="submit">{reauthFor ? 'Sign in again' : 'Sign in'}</button>
        </form>
      )}
      {!methods.oidc && !methods.dev && <p>No sign-in method is configured (CONSOLE_OIDC_ISSUER).</p>}
      <ErrorNote error={error} />
    </Wrapper>
  );
}
