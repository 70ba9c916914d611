import { Migration } from '../../sql/migrations';

// One schema for PostgreSQL and PGlite. Global order is (txid, seq): readers stay below the
// oldest transaction still in flight, so an event that commits late at a lower seq is never skipped.
export const EVENT_STORE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'streams and events',
    sql: `CREATE TABLE IF NOT EXISTS es_streams (
      stream_name text PRIMARY KEY,
      revision    integer NOT NULL
    );
    CREATE TABLE IF NOT EXISTS es_events (
      seq            bigserial PRIMARY KEY,
      txid           xid8 NOT NULL DEFAULT pg_current_xact_id(),
      stream_name    text NOT NULL,
      revision       integer NOT NULL,
      event_id       uuid NOT NULL UNIQUE,
      type           text NOT NULL,
      schema_version integer NOT NULL,
      data           jsonb NOT NULL,
      metadata       jsonb NOT NULL,
      recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
      UNIQUE (stream_name, revision)
    );
    CREATE INDEX IF NOT EXISTS es_events_global_order ON es_events (txid, seq)`,
  },
];
