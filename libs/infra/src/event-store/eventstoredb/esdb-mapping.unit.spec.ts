import { ANY, NO_STREAM, STREAM_EXISTS } from '@eventstore/db-client';
import { toEsdbExpected, toRecorded } from './esdb-event-store';

// The EventStoreDB adapter's pure mappings. The adapter itself runs the shared contract suite
// whenever EVENTSTORE_URL names a server (none can be installed on our machines).
describe('EventStoreDB mappings', () => {
  it('maps every expected revision', () => {
    expect(toEsdbExpected('no-stream')).toBe(NO_STREAM);
    expect(toEsdbExpected('stream-exists')).toBe(STREAM_EXISTS);
    expect(toEsdbExpected('any')).toBe(ANY);
    expect(toEsdbExpected(7)).toBe(7n);
  });

  it('restores schemaVersion and metadata from the stored event metadata', () => {
    const r = toRecorded({
      streamId: 'secret-p/N',
      id: 'e1',
      revision: 3n,
      type: 'SecretCreated',
      data: { a: 1 },
      metadata: { schemaVersion: 2, correlationId: 'c', causationId: 'k', actor: { type: 'user', id: 'u' }, occurredAt: '2026-01-01T00:00:00.000Z' },
      created: new Date('2026-01-01T00:00:01.000Z'),
      position: { commit: 10n, prepare: 9n },
    });
    expect(r).toEqual({
      eventId: 'e1',
      type: 'SecretCreated',
      schemaVersion: 2,
      data: { a: 1 },
      metadata: { correlationId: 'c', causationId: 'k', actor: { type: 'user', id: 'u' }, occurredAt: '2026-01-01T00:00:00.000Z' },
      streamName: 'secret-p/N',
      revision: 3,
      position: { commit: 10n, prepare: 9n },
      recordedAt: '2026-01-01T00:00:01.000Z',
    });
  });
});
