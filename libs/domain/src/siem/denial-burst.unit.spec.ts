import { RecordedEvent } from '../ports/event-store';
import { DenialBurstDetector } from '.';

const t0 = Date.parse('2025-03-01T10:00:00.000Z');
let seq = 0;

/** A SecretAccessDenied of `principalId` at t0 + `seconds`. */
function denial(principalId: string, seconds: number, principalType: 'user' | 'ci-job' = 'user'): RecordedEvent {
  seq++;
  return {
    eventId: `e-${seq}`,
    type: 'SecretAccessDenied',
    schemaVersion: 1,
    data: { projectId: 'acme', name: 'X', action: 'read', principal: { type: principalType, id: principalId }, reason: 'no-grant', purpose: null },
    metadata: {
      correlationId: 'c',
      causationId: 'c',
      actor: { type: principalType, id: principalId },
      occurredAt: new Date(t0 + seconds * 1000).toISOString(),
    },
    streamName: 'access-acme',
    revision: seq,
    position: { commit: 1n, prepare: BigInt(seq) },
    // deliberately unrelated to occurredAt: only event time counts
    recordedAt: '2030-01-01T00:00:00.000Z',
  };
}

const run = (d: DenialBurstDetector, events: RecordedEvent[]) => events.map((e) => d.observe(e));

describe('DenialBurstDetector', () => {
  it('flags the denial that reaches the default threshold of 10 within 60 s, and those after it', () => {
    const d = new DenialBurstDetector();
    const flags = run(d, Array.from({ length: 12 }, (_, i) => denial('mallory', i * 5)));
    expect(flags).toEqual([...Array(9).fill(false), true, true, true]);
  });

  it('does not flag denials spread wider than the window', () => {
    const d = new DenialBurstDetector();
    // 10 denials, 7 s apart: the first leaves the window (63 s) before the tenth arrives
    expect(run(d, Array.from({ length: 10 }, (_, i) => denial('mallory', i * 7))).some(Boolean)).toBe(false);
  });

  it('honours threshold and windowSeconds options; the window excludes its left edge', () => {
    const d = new DenialBurstDetector({ threshold: 3, windowSeconds: 10 });
    expect(run(d, [denial('m', 0), denial('m', 5), denial('m', 10)])).toEqual([false, false, false]); // t=0 is exactly 10 s old
    expect(d.observe(denial('m', 11))).toBe(true); // 5, 10, 11
    expect(d.observe(denial('m', 30))).toBe(false); // window emptied
  });

  it('counts each principal separately, users and CI jobs apart', () => {
    const d = new DenialBurstDetector({ threshold: 3, windowSeconds: 60 });
    expect(run(d, [denial('a', 0), denial('b', 1), denial('a', 2, 'ci-job'), denial('a', 3), denial('b', 4)])).toEqual([false, false, false, false, false]);
    expect(d.observe(denial('a', 5))).toBe(true);
    expect(d.observe(denial('a', 6, 'ci-job'))).toBe(false);
  });

  it('is deterministic: a replay of the same events gives the same flags', () => {
    const events = Array.from({ length: 200 }, (_, i) => denial(`p${i % 7}`, Math.floor(i * 1.7)));
    const first = run(new DenialBurstDetector({ threshold: 5, windowSeconds: 60 }), events);
    const again = run(new DenialBurstDetector({ threshold: 5, windowSeconds: 60 }), events.map((e) => structuredClone(e)));
    expect(again).toEqual(first);
    expect(first.some(Boolean)).toBe(true);
  });

  it('uses event time, never the clock', () => {
    const now = jest.spyOn(Date, 'now').mockImplementation(() => {
      throw new Error('Date.now must not be used');
    });
    try {
      const d = new DenialBurstDetector({ threshold: 2 });
      expect(run(d, [denial('m', 0), denial('m', 1)])).toEqual([false, true]);
    } finally {
      now.mockRestore();
    }
  });

  it('forgets principals whose denials left the window', () => {
    const d = new DenialBurstDetector({ threshold: 3, windowSeconds: 10 });
    run(d, [denial('a', 0), denial('b', 1), denial('c', 2)]);
    expect(d.trackedPrincipals).toBe(3);
    d.observe(denial('d', 100));
    expect(d.trackedPrincipals).toBe(1);
  });

  it('caps the number of tracked principals, evicting the least recently seen', () => {
    const d = new DenialBurstDetector({ threshold: 2, windowSeconds: 3600, maxPrincipals: 3 });
    run(d, [denial('a', 0), denial('b', 1), denial('c', 2), denial('a', 3)]); // a is now the most recent
    d.observe(denial('d', 4)); // evicts b
    expect(d.trackedPrincipals).toBe(3);
    expect(d.observe(denial('a', 5))).toBe(true); // a kept its history
    expect(d.observe(denial('b', 6))).toBe(false); // b starts over
  });

  it('keeps at most `threshold` times per principal however many denials arrive', () => {
    const d = new DenialBurstDetector({ threshold: 4, windowSeconds: 60 });
    const flags = run(d, Array.from({ length: 10_000 }, (_, i) => denial('flood', i / 1000)));
    expect(flags.filter(Boolean)).toHaveLength(10_000 - 3);
    expect((d as unknown as { recent: Map<string, number[]> }).recent.get('user:flood')).toHaveLength(4);
  });

  it('rejects nonsensical options', () => {
    expect(() => new DenialBurstDetector({ threshold: 0 })).toThrow(RangeError);
    expect(() => new DenialBurstDetector({ windowSeconds: -1 })).toThrow(RangeError);
    expect(() => new DenialBurstDetector({ maxPrincipals: 1.5 })).toThrow(RangeError);
  });
});
