import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { Ctx, ErrorNote } from '../app';
import { parseNote } from '../proof';

/** The latest signed checkpoint and how to verify the log with the CLI. */
export function Integrity(_: { ctx: Ctx }) {
  const [note, setNote] = useState<string | null>(null);
  const [key, setKey] = useState<Awaited<ReturnType<typeof api.publicKey>> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [fetchedAt] = useState(() => new Date().toISOString());
  useEffect(() => {
    api.latestCheckpoint().then(setNote, setError);
    api.publicKey().then(setKey, setError);
  }, []);
  const parsed = note ? parseNote(note) : null;
  const bundle = note && key ? URL.createObjectURL(new Blob([JSON.stringify({ checkpoint: note, publicKeyPem: key.publicKeyPem, origin: key.origin }, null, 2)], { type: 'application/json' })) : null;
  return (
    <>
      <h1>Integrity</h1>
      <ErrorNote error={error} />
      {parsed && (
        <dl>
          <dt>Log</dt><dd>{parsed.origin}</dd>
          <dt>Records</dt><dd>{parsed.treeSize}</dd>
          <dt>Root hash</dt><dd><code>{note!.split('\n')[2]}</code></dd>
          <dt>Fetched</dt><dd>{fetchedAt}</dd>
        </dl>
      )}
      {note && <pre tabIndex={0} aria-label="Signed checkpoint">{note}</pre>}
      {bundle && <p><a href={bundle} download="verify-bundle.json">Download the verify bundle (checkpoint and public key)</a></p>}
      <p>Verify the whole log with the CLI:</p>
      <pre tabIndex={0} aria-label="CLI verify command"><code>npm run --silent cli -- verify log --checkpoint note.txt --public-key key.pem</code></pre>
    </>
  );
}
