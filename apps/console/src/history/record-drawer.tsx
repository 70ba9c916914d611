import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorNote } from '../app';
import { verifyRecord, ProofOutcome } from '../proof';

/** One access decision: its OCSF record, the grant → request/break-glass chain, and its Merkle proof checked here. */
export function RecordDrawer({ project, item, eventId, onClose }: { project: string; item: api.HistoryItem | null; eventId: string; onClose: () => void }) {
  const [rec, setRec] = useState<api.AuditRecord | null>(null);
  const [outcome, setOutcome] = useState<ProofOutcome | null>(null);
  const [pem, setPem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const opener = useRef<Element | null>(document.activeElement);

  useEffect(() => {
    heading.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && close();
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  useEffect(() => {
    (async () => {
      const { index } = await api.auditIndexOf(project, eventId);
      const r = await api.auditRecord(index);
      setRec(r);
      const key = await api.publicKey();
      setPem(key.publicKeyPem);
      setOutcome(await verifyRecord(r, key));
    })().catch(setError);
  }, [eventId]);
  const close = () => {
    onClose();
    (opener.current as HTMLElement | null)?.focus?.();
  };

  const via = item?.via as Record<string, unknown> | null | undefined;
  // The verify bundle: the three files `cli verify inclusion` reads, as the API served them.
  const file = (text: string, type: string) => URL.createObjectURL(new Blob([text], { type }));
  const bundle = rec && pem ? { record: file(JSON.stringify(rec), 'application/json'), note: file(rec.checkpoint ?? '', 'text/plain'), key: file(pem, 'application/x-pem-file') } : null;
  return (
    <div class="drawer" role="dialog" aria-modal="true" aria-labelledby="drawer-title">
      <h2 id="drawer-title" tabIndex={-1} ref={heading}>Audit record</h2>
      <button type="button" class="close" onClick={close}>Close record</button>
      {item && (
        <section aria-labelledby="chain-title">
          <h3 id="chain-title">Why it was {item.decision}</h3>
          <ul>
            <li>Principal: {item.principal.type}:{item.principal.id}</li>
            {via && 'grantId' in via && <li>Grant {String(via.grantId)} (role {String(via.role)})</li>}
            {via && via.accessRequestId !== undefined && <li>From access request {String(via.accessRequestId)}</li>}
            {via && via.breakGlass === true && <li>From a break-glass</li>}
            {via && 'scope' in via && <li>CI job scope</li>}
            {via && 'channel' in via && <li>Direct OpenBao read, request {String(via.requestId)}</li>}
            {item.reason && <li>Reason: {item.reason}</li>}
          </ul>
        </section>
      )}
      <ErrorNote error={error} />
      <section aria-labelledby="proof-title">
        <h3 id="proof-title">Integrity</h3>
        <p role="status">
          {!rec && !error && 'Fetching the record and its inclusion proof…'}
          {rec && !outcome && 'Checking the proof…'}
          {outcome?.ok && `Inclusion proof verified in this page: record ${rec!.index} is in the log of ${outcome.treeSize} records whose signed checkpoint verifies with the log's Ed25519 key.`}
          {outcome && !outcome.ok && `Not verified here: ${outcome.why}.`}
        </p>
        {bundle && (
          <p>
            Verify it yourself: download <a href={bundle.record} download="record.json">record.json</a>, <a href={bundle.note} download="note.txt">note.txt</a> and{' '}
            <a href={bundle.key} download="key.pem">key.pem</a>, then <code>npm run --silent cli -- verify inclusion --record record.json --checkpoint note.txt --public-key key.pem</code>
          </p>
        )}
      </section>
      {rec && (
        <section aria-labelledby="ocsf-title">
          <h3 id="ocsf-title">OCSF record</h3>
          <pre tabIndex={0} aria-label="OCSF record JSON">{JSON.stringify(rec.record, null, 2)}</pre>
        </section>
      )}
    </div>
  );
}
