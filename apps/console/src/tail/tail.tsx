import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { Ctx, ErrorNote } from '../app';
import { fmtTime } from '../format';

const KEEP = 200;

/** The live audit stream of the user's projects, newest first; paused while the reader scrolls or asks. */
export function Tail(_: { ctx: Ctx }) {
  const [rows, setRows] = useState<api.TailRecord[]>([]);
  const [paused, setPaused] = useState(false);
  const [waiting, setWaiting] = useState(0);
  const [error, setError] = useState<unknown>(null);
  // "Live" only once the server answered: a record logged before that is not in this stream.
  const [open, setOpen] = useState(false);
  const buffer = useRef<api.TailRecord[]>([]);
  const pausedRef = useRef(false);
  pausedRef.current = paused;

  useEffect(() => {
    const stop = new AbortController();
    api
      .tail((r) => {
        if (pausedRef.current) {
          buffer.current.push(r);
          setWaiting(buffer.current.length);
        } else setRows((old) => [r, ...old].slice(0, KEEP));
      }, stop.signal, () => setOpen(true))
      .catch((e: Error) => e.name !== 'AbortError' && setError(e));
    return () => stop.abort();
  }, []);

  const resume = () => {
    const held = buffer.current.reverse();
    buffer.current = [];
    setWaiting(0);
    setRows((old) => [...held, ...old].slice(0, KEEP));
    setPaused(false);
  };
  return (
    <>
      <h1>Live audit</h1>
      <p>New audit records of your projects as they are logged (the last {KEEP}).</p>
      <ErrorNote error={error} />
      <p>
        {paused ? <button type="button" onClick={resume}>Resume live updates</button> : <button type="button" onClick={() => setPaused(true)}>Pause live updates</button>}{' '}
        <span role="status">{paused ? `Paused: ${waiting} new record${waiting === 1 ? '' : 's'} waiting` : open ? 'Live' : 'Connecting…'}</span>
      </p>
      <div class="tail" tabIndex={0} aria-label="Live audit records" onScroll={(e) => (e.currentTarget as HTMLElement).scrollTop > 0 && !paused && setPaused(true)}>
        <table>
          <caption>Audit records, newest first</caption>
          <thead><tr><th scope="col">Index</th><th scope="col">When (UTC)</th><th scope="col">Event</th><th scope="col">Key</th><th scope="col">Actor</th></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.index}>
                <td>{r.index}</td>
                <td>{r.record.time ? fmtTime(new Date(r.record.time).toISOString()) : '—'}</td>
                <td>{r.eventType}</td>
                <td>{r.key}</td>
                <td>{r.record.actor?.user?.uid ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
