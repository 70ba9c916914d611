import { useState } from 'preact/hooks';
import * as api from '../api';
import { fmtTime } from '../format';

const ROW = 36; // px, fixed by .vrows tr in styles.css
const OVERSCAN = 10;

/**
 * Thousands of history rows without thousands of DOM rows: only the rows in view (plus a margin)
 * are rendered inside a scrolling box, between two spacer rows sized through CSSOM (no inline style
 * attribute, so the CSP holds).
 */
export function VirtualRows({ rows, utc, onOpen }: { rows: api.HistoryItem[]; utc: boolean; onOpen: (eventId: string) => void }) {
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((top + height) / ROW) + OVERSCAN);
  return (
    <div
      class="vscroll"
      role="region"
      tabIndex={0}
      aria-label={`All ${rows.length} loaded access decisions, scrollable`}
      onScroll={(e) => {
        const el = e.currentTarget as HTMLElement;
        setTop(el.scrollTop);
        setHeight(el.clientHeight);
      }}
    >
      <table class="history vrows" aria-rowcount={rows.length + 1}>
        <caption>{rows.length} access decisions loaded, newest first</caption>
        <thead>
          <tr aria-rowindex={1}>
            <th scope="col">When ({utc ? 'UTC' : 'local'})</th>
            <th scope="col">Secret</th>
            <th scope="col">Principal</th>
            <th scope="col">Decision</th>
            <th scope="col">Record</th>
          </tr>
        </thead>
        <tbody>
          <tr aria-hidden="true" class="spacer" style={{ height: `${first * ROW}px` }} />
          {rows.slice(first, last).map((r, i) => (
            <tr key={r.eventId} aria-rowindex={first + i + 2}>
              <td>{fmtTime(r.occurredAt, utc)}</td>
              <td>{r.secret ?? '—'}</td>
              <td>{r.principal.type}:{r.principal.id}</td>
              <td class={r.decision}>{r.decision}</td>
              <td>
                <button type="button" onClick={() => onOpen(r.eventId)} aria-label={`Open record ${first + i + 1}: ${r.secret ?? 'project'} ${r.decision} for ${r.principal.id}`}>Open</button>
              </td>
            </tr>
          ))}
          <tr aria-hidden="true" class="spacer" style={{ height: `${(rows.length - last) * ROW}px` }} />
        </tbody>
      </table>
    </div>
  );
}
