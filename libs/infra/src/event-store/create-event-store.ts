import { EventStore } from '@app/domain';
import { SqlClient } from '../sql/sql-client';
import { PostgresEventStore } from './postgres/postgres-event-store';

export type EventStoreTarget = { kind: 'sql'; sql: SqlClient } | { kind: 'eventstoredb'; url: string };

export async function createEventStore(target: EventStoreTarget): Promise<EventStore> {
  if (target.kind === 'sql') return PostgresEventStore.create(target.sql);
  const { EsdbEventStore } = await import('./eventstoredb/esdb-event-store');
  return EsdbEventStore.connect(target.url);
}
