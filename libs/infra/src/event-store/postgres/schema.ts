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
  {
    version: 2,
    name: 'es_append: one round trip per append',
    sql: [
      `CREATE OR REPLACE FUNCTION es_append(p_stream text, p_expected text, p_events jsonb)
       RETURNS TABLE (outcome text, revision integer, last_seq bigint, last_txid text)
       LANGUAGE plpgsql AS $fn$
       DECLARE
         cur integer;
         found_stream boolean;
         n integer := jsonb_array_length(p_events);
       BEGIN
         -- Lock the stream BEFORE the first write, so this transaction's id is assigned after
         -- the previous appender to the stream committed: per-stream order = (txid, seq) order.
         PERFORM pg_advisory_xact_lock(hashtextextended(p_stream, 0));
         SELECT s.revision INTO cur FROM es_streams s WHERE s.stream_name = p_stream;
         found_stream := FOUND;
         IF NOT found_stream THEN cur := -1; END IF;
         IF NOT (p_expected = 'any'
                 OR (p_expected = 'no-stream' AND NOT found_stream)
                 OR (p_expected = 'stream-exists' AND found_stream)
                 OR (p_expected ~ '^[0-9]{1,9}$' AND p_expected::integer = cur)) THEN
           RETURN QUERY SELECT 'conflict'::text, cur, NULL::bigint, NULL::text;
           RETURN;
         END IF;
         IF found_stream THEN
           UPDATE es_streams SET revision = cur + n WHERE stream_name = p_stream;
         ELSE
           INSERT INTO es_streams (stream_name, revision) VALUES (p_stream, cur + n);
         END IF;
         INSERT INTO es_events (stream_name, revision, event_id, type, schema_version, data, metadata)
           SELECT p_stream, cur + e.ord::integer, (e.v->>'eventId')::uuid, e.v->>'type', (e.v->>'schemaVersion')::integer, e.v->'data', e.v->'metadata'
           FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(v, ord);
         PERFORM pg_notify('es_events_appended', left(p_stream, 200));
         RETURN QUERY SELECT 'ok'::text, cur + n, currval(pg_get_serial_sequence('es_events', 'seq')), pg_current_xact_id()::text;
       END
       $fn$`,
    ],
  },
  {
    version: 3,
    name: 'es_append_many: appends made together, every stream locked before the first write',
    sql: [
      // Every stream of the group is locked (in lock-key order: no cycle between two groups, even
      // when two names share a key) BEFORE the first write gives the transaction its id, so, as
      // for one append, the id comes after every earlier appender to any of these streams
      // committed, and a lock wait never holds readers back (no id yet, nothing for
      // pg_snapshot_xmin to wait on). Then each append in the order given.
      `CREATE OR REPLACE FUNCTION es_append_many(p_streams text[], p_events text[])
       RETURNS TABLE (k integer, outcome text, revision integer, last_seq bigint, last_txid text)
       LANGUAGE plpgsql AS $fn$
       DECLARE
         h bigint;
       BEGIN
         IF coalesce(array_length(p_streams, 1), 0) <> coalesce(array_length(p_events, 1), 0) THEN
           RAISE EXCEPTION 'es_append_many: % streams, % event lists', array_length(p_streams, 1), array_length(p_events, 1);
         END IF;
         FOR h IN SELECT DISTINCT hashtextextended(s, 0) FROM unnest(p_streams) AS s ORDER BY 1 LOOP
           PERFORM pg_advisory_xact_lock(h);
         END LOOP;
         FOR i IN 1 .. coalesce(array_length(p_streams, 1), 0) LOOP
           RETURN QUERY SELECT i, r.outcome, r.revision, r.last_seq, r.last_txid FROM es_append(p_streams[i], 'any', p_events[i]::jsonb) AS r;
         END LOOP;
       END
       $fn$`,
    ],
  },
];
