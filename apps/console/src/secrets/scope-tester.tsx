import { useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorNote } from '../app';

/** "Would a job on branch X, environment Y, protected or not, read this?" — asked of the API, never guessed here. */
export function ScopeTester({ project, names }: { project: string; names: string[] }) {
  const [answer, setAnswer] = useState('');
  const [error, setError] = useState<unknown>(null);
  const ask = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setAnswer('');
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const name = String(f.get('secret') ?? '');
    const ref = String(f.get('ref') ?? '').trim();
    const environment = String(f.get('environment') ?? '').trim() || undefined;
    try {
      const r = await api.scopeTest(project, name, { ref, refType: f.get('refType') === 'tag' ? 'tag' : 'branch', environment, protected: f.get('protected') === 'on' });
      setAnswer(r.wouldRead ? `Yes: a job on ${ref}${environment ? ` in ${environment}` : ''} would read ${name}.` : `No: a job on ${ref}${environment ? ` in ${environment}` : ''} would not read ${name} (${r.reason}).`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="filters" onSubmit={ask} aria-labelledby="scope-title">
      <h2 id="scope-title">Would a CI job read it?</h2>
      <label>Secret <select name="secret" required>{names.map((n) => <option key={n} value={n}>{n}</option>)}</select></label>
      <label>Ref <input name="ref" required placeholder="main" /></label>
      <label>Ref type <select name="refType"><option value="branch">branch</option><option value="tag">tag</option></select></label>
      <label>Environment (optional) <input name="environment" /></label>
      <label class="check"><input type="checkbox" name="protected" /> Protected ref</label>
      <button type="submit">Ask</button>
      <p role="status">{answer}</p>
      <ErrorNote error={error} />
    </form>
  );
}
