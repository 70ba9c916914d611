import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStore } from '@app/domain';
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { PgClient } from '@app/infra/sql/pg-client';
import { scratchDatabase } from '../../../test/support/scratch-database';
import { brokerMarker, deriveBrokerMarkerKey } from '@app/domain/openbao-audit';
import { Metrics } from '@app/infra/observability/metrics';
import { OpenBaoAuditIngester } from './openbao-audit-ingester';

// The tailing itself, against real PostgreSQL, on a file written here from a real OpenBao 2.7.2
// response entry (a CI job's direct read) with fresh request ids: stored offset, a line still being
// written, truncation, rotation; exactly one event per request id throughout.
const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const FIX = JSON.parse(readFileSync(join(__dirname, '../../../libs/domain/src/openbao-audit/fixtures/openbao-2.7.2-audit-entries.json'), 'utf8'));

if (!url) {
  console.warn('SKIPPED OpenBao audit ingester int test: TEST_DATABASE_URL or DATABASE_URL not set');
  describe.skip('OpenBao audit ingester — SKIPPED, no PostgreSQL', () => it('needs PostgreSQL', () => undefined));
} else {
  describe('OpenBaoAuditIngester tails the audit file (PostgreSQL)', () => {
    let db: { url: string; drop(): Promise<void> };
    let sql: PgClient;
    let store: EventStore;
    const dir = mkdtempSync(join(tmpdir(), 'ps-bao-audit-'));
    const file = join(dir, 'audit.log');
    const [mount, , prefix, project] = String(FIX.job_read.request.path).split('/');
    const scope = { kvMount: mount, kvPrefix: prefix, jwtMount: 'jwt-ci' };
    const entry = (id: string) => JSON.stringify({ ...FIX.job_read, request: { ...FIX.job_read.request, id } }) + '\n';
    const requestLine = (id: string) => JSON.stringify({ ...FIX.job_read, type: 'request', request: { ...FIX.job_read.request, id } }) + '\n';
    const ids = async () => (await store.readStream(`access-${project}/ALPHA`)).map((e) => (e.data.via as { requestId: string }).requestId);
    const ingester = () => new OpenBaoAuditIngester(store, sql, { file, scope }, new JsonLogger('error'));

    beforeAll(async () => {
      db = await scratchDatabase(url, 'bao_audit_ingest');
      sql = await PgClient.connect(db.url);
      store = await PostgresEventStore.create(sql);
    });
    afterAll(async () => {
      await sql?.close();
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('resumes from the stored offset, waits for a line being written, and survives truncation and rotation without a duplicate', async () => {
      const a = ingester();
      await a.start();
      await a.stop(); // table made; drive it by hand below
      const r = Array.from({ length: 6 }, () => randomUUID());
      writeFileSync(file, requestLine(r[0]) + entry(r[0]) + entry(r[1]));
      const half = entry(r[2]);
      appendFileSync(file, half.slice(0, 100)); // OpenBao is still writing this line
      expect(await a.pollOnce()).toBe(3);
      expect(await ids()).toEqual([r[0], r[1]]);
      appendFileSync(file, half.slice(100));
      // a new ingester (a restarted auditor) starts at the stored offset: only the completed line
      const b = ingester();
      expect(await b.pollOnce()).toBe(1);
      expect(await ids()).toEqual([r[0], r[1], r[2]]);
      expect(await b.pollOnce()).toBe(0);

      // truncated and rewritten (shorter than the offset): read from 0, old ids add nothing
      truncateSync(file, 0);
      writeFileSync(file, entry(r[1]) + entry(r[3]));
      expect(await b.pollOnce()).toBe(2);
      expect(await ids()).toEqual([r[0], r[1], r[2], r[3]]);

      // rotated: a new file (new inode) at the path, longer than the old offset
      renameSync(file, `${file}.1`);
      writeFileSync(file, entry(r[0]) + entry(r[1]) + entry(r[2]) + entry(r[3]) + entry(r[4]) + entry(r[5]));
      expect(await b.pollOnce()).toBe(6);
      expect(await ids()).toEqual(r);

      // and a re-read from 0 of what is there adds nothing
      await b.resetOffset();
      expect(await b.pollOnce()).toBe(6);
      expect(await ids()).toEqual(r);
    }, 60_000);

    describe('first start (no stored offset): BAO_AUDIT_START', () => {
      // An OpenBao with history: a direct read and an unmarked write to a ps-ci-* policy (drift, if
      // ingested), and a line OpenBao is still writing.
      const readAt = (name: string, id: string) => JSON.stringify({ ...FIX.job_read, request: { ...FIX.job_read.request, id, path: `${mount}/data/${prefix}/${project}/${name}` } }) + '\n';
      const writeAt = (id: string) => JSON.stringify({ ...FIX.write, request: { ...FIX.write.request, id, path: 'sys/policies/acl/ps-ci-start-1' } }) + '\n';
      const idsOf = async (name: string) => (await store.readStream(`access-${project}/${name}`)).map((e) => (e.data.via as { requestId: string }).requestId);
      const logged: Array<Record<string, unknown>> = [];
      beforeAll(() => JsonLogger.setSink((l) => void logged.push(JSON.parse(l))));
      afterAll(() => JsonLogger.setSink((l) => void process.stdout.write(l + '\n')));
      const make = (f: string, start: 'beginning' | 'end' | undefined, drift: string[]) =>
        new OpenBaoAuditIngester(store, sql, { file: f, scope, start, onOwnedWrite: async (w) => void drift.push(w.requestId) }, new JsonLogger('warn'));

      it('end: skips what the file holds (said in a warning), reads a line OpenBao was still writing once it ends, and on a restart resumes from the stored offset, not the end', async () => {
        const f = join(dir, 'start-end.log');
        const [old1, old2, oldWrite, partial, new1, whileDown] = Array.from({ length: 6 }, () => randomUUID());
        const half = readAt('START_END', partial);
        writeFileSync(f, readAt('START_END', old1) + writeAt(oldWrite) + readAt('START_END', old2) + half.slice(0, 80));
        const drift: string[] = [];
        const a = make(f, 'end', drift);
        logged.length = 0;
        expect(await a.pollOnce()).toBe(0);
        expect(await idsOf('START_END')).toEqual([]);
        expect(drift).toEqual([]);
        const warning = logged.find((l) => String(l.msg).includes('BAO_AUDIT_START=end'));
        expect(warning).toMatchObject({ level: 'warn', file: f, skippedBytes: Buffer.byteLength(readAt('START_END', old1) + writeAt(oldWrite) + readAt('START_END', old2)) });
        // a second poll of the same ingester does not skip again
        appendFileSync(f, half.slice(80) + readAt('START_END', new1));
        expect(await a.pollOnce()).toBe(2);
        expect(await idsOf('START_END')).toEqual([partial, new1]);
        // stopped; OpenBao goes on; a restarted auditor (still `end`) reads what it missed
        appendFileSync(f, readAt('START_END', whileDown) + writeAt(randomUUID()));
        logged.length = 0;
        const b = make(f, 'end', drift);
        expect(await b.pollOnce()).toBe(2);
        expect(await idsOf('START_END')).toEqual([partial, new1, whileDown]);
        expect(drift).toHaveLength(1); // the write after the start is drift; the earlier one never was
        expect(drift).not.toContain(oldWrite);
        expect(logged.filter((l) => String(l.msg).includes('BAO_AUDIT_START=end'))).toEqual([]);
      }, 60_000);

      it('beginning (and the class default): the whole history becomes events, its unmarked write is drift', async () => {
        for (const start of ['beginning', undefined] as const) {
          const name = `START_BEGIN_${(start ?? 'DEFAULT').toUpperCase()}`; // a valid secret name (SECRET_NAME_PATTERN)
          const f = join(dir, `start-${name}.log`);
          const [old1, oldWrite, old2] = Array.from({ length: 3 }, () => randomUUID());
          writeFileSync(f, readAt(name, old1) + writeAt(oldWrite) + readAt(name, old2));
          const drift: string[] = [];
          expect(await make(f, start, drift).pollOnce()).toBe(3);
          expect(await idsOf(name)).toEqual([old1, old2]);
          expect(drift).toEqual([oldWrite]);
        }
      }, 60_000);

      it('end, with no file yet at first start: the file that appears later is all new and read from its first byte', async () => {
        const f = join(dir, 'start-absent.log');
        const drift: string[] = [];
        const a = make(f, 'end', drift);
        expect(await a.pollOnce()).toBe(0);
        const [r1, w1] = [randomUUID(), randomUUID()];
        writeFileSync(f, readAt('START_ABSENT', r1) + writeAt(w1));
        // also across a restart in between (the "absent" decision is stored, not in memory)
        expect(await make(f, 'end', drift).pollOnce()).toBe(2);
        expect(await idsOf('START_ABSENT')).toEqual([r1]);
        expect(drift).toEqual([w1]);
      }, 60_000);
    });

    it('broker markers: the old plain one and a forged one are direct reads; a valid one naming the SecretAccessed is dropped; replayed under another request id, or naming no SecretAccessed of this secret, it is recorded', async () => {
      const key = deriveBrokerMarkerKey(Buffer.from('int test marker key'));
      const path = String(FIX.job_read.request.path);
      const name = path.split('/')[4];
      const stream = `access-${project}/${name}`;
      const marked = (id: string, marker: string) => JSON.stringify({ ...FIX.job_read, request: { ...FIX.job_read.request, id, headers: { 'x-pipeline-secrets-broker': [marker] } } }) + '\n';
      // the SecretAccessed the command API appended before it read (the marker names it)
      const accessedId = randomUUID();
      await store.appendToStream(stream, 'any', [
        { eventId: accessedId, type: 'SecretAccessed', schemaVersion: 1, data: { projectId: project, name, version: 1, principal: { type: 'ci-job', id: 'x' }, via: { scope: 'branch' }, purpose: null }, metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'ci-job', id: 'x' }, occurredAt: new Date().toISOString() } },
      ]);
      const otherEvent = randomUUID(); // a SecretAccessed of another secret
      await store.appendToStream(`access-${project}/OTHER`, 'any', [
        { eventId: otherEvent, type: 'SecretAccessed', schemaVersion: 1, data: { projectId: project, name: 'OTHER', version: 1, principal: { type: 'ci-job', id: 'x' }, via: { scope: 'branch' }, purpose: null }, metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'ci-job', id: 'x' }, occurredAt: new Date().toISOString() } },
      ]);
      const [plain, forged, valid, replay, elsewhere] = Array.from({ length: 5 }, () => randomUUID());
      const lines =
        marked(plain, 'pipeline-secrets') +
        marked(forged, `v1.${accessedId}.${'A'.repeat(43)}`) +
        marked(valid, brokerMarker(key, path, accessedId)) +
        marked(replay, brokerMarker(key, path, accessedId)) +
        marked(elsewhere, brokerMarker(key, path, otherEvent));
      const f2 = join(dir, 'markers.log');
      writeFileSync(f2, lines);
      const ing = new OpenBaoAuditIngester(store, sql, { file: f2, scope: { ...scope, markerKey: key } }, new JsonLogger('error'));
      await ing.start();
      await ing.stop();
      const direct = async () =>
        (await store.readStream(stream)).filter((e) => e.type === 'SecretAccessed' && (e.data.via as { channel?: string }).channel === 'openbao').map((e) => (e.data.via as { requestId: string }).requestId)
          .filter((id) => ([plain, forged, valid, replay, elsewhere] as string[]).includes(id)); // the first test's reads share this stream
      expect(await ing.pollOnce()).toBe(5);
      expect(await direct()).toEqual([plain, forged, replay, elsewhere]);
      // a re-read from 0 (a restarted auditor) keeps the first use: the valid read stays dropped, nothing doubles
      await ing.resetOffset();
      const again = new OpenBaoAuditIngester(store, sql, { file: f2, scope: { ...scope, markerKey: key } }, new JsonLogger('error'));
      expect(await again.pollOnce()).toBe(5);
      expect(await direct()).toEqual([plain, forged, replay, elsewhere]);
    }, 60_000);

    it('issue 23: the brokered reads of a chunk cost a few statements, not two each; a marker seen twice in the chunk counts once; a stream already seen finds its new SecretAccessed on the next chunk', async () => {
      const key = deriveBrokerMarkerKey(Buffer.from('int test marker key'));
      let statements = 0;
      const counted = new Proxy(sql, {
        get(target, k) {
          if (k === 'query')
            return (text: string, params?: unknown[]) => {
              if (/openbao_broker_markers|FROM es_events/.test(text)) statements++;
              return target.query(text, params);
            };
          const v = (target as unknown as Record<string | symbol, unknown>)[k];
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const countedStore = await PostgresEventStore.create(counted);
      const names = ['B23_A', 'B23_B', 'B23_C', 'B23_D'];
      const pathOf = (name: string) => `${mount}/data/${prefix}/${project}/${name}/0123456789abcdef-fedcba9876543210`;
      const accessed = async (name: string) => {
        const id = randomUUID();
        await store.appendToStream(`access-${project}/${name}`, 'any', [
          { eventId: id, type: 'SecretAccessed', schemaVersion: 1, data: { projectId: project, name, version: 1, principal: { type: 'ci-job', id: 'x' }, via: { scope: 'branch' }, purpose: null }, metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'ci-job', id: 'x' }, occurredAt: new Date().toISOString() } },
        ]);
        return id;
      };
      const line = (name: string, id: string, marker: string) =>
        JSON.stringify({ ...FIX.job_read, request: { ...FIX.job_read.request, id, path: pathOf(name), headers: { 'x-pipeline-secrets-broker': [marker] } } }) + '\n';
      const reads: { name: string; req: string; marker: string }[] = [];
      for (let i = 0; i < 20; i++) {
        const name = names[i % 4];
        reads.push({ name, req: randomUUID(), marker: brokerMarker(key, pathOf(name), await accessed(name)) });
      }
      const replayed = { ...reads[3], req: randomUUID() }; // the same marker, a second request in the same chunk
      const f = join(dir, 'chunk-markers.log');
      writeFileSync(f, reads.map((r) => line(r.name, r.req, r.marker)).join('') + line(replayed.name, replayed.req, replayed.marker));
      const ing = new OpenBaoAuditIngester(countedStore, counted, { file: f, scope: { ...scope, markerKey: key } }, new JsonLogger('error'));
      await ing.start();
      await ing.stop();
      statements = 0;
      expect(await ing.pollOnce()).toBe(21);
      const direct = async (name: string) => (await store.readStream(`access-${project}/${name}`)).filter((e) => (e.data.via as { channel?: string }).channel === 'openbao').map((e) => (e.data.via as { requestId: string }).requestId);
      expect(await direct(replayed.name)).toEqual([replayed.req]);
      for (const n of names.filter((n) => n !== replayed.name)) expect(await direct(n)).toEqual([]);
      // First sight of 5 streams (4 secrets' logs + the project's batch log, paged), one marker statement, the offset is not counted;
      // one at a time it was 2 per read (stream read + marker): 42.
      expect(statements).toBeLessThanOrEqual(8);

      // the next chunk: new reads of streams already seen: their catch-ups share one statement
      const next = await Promise.all(names.map(async (name) => ({ name, req: randomUUID(), marker: brokerMarker(key, pathOf(name), await accessed(name)) })));
      appendFileSync(f, next.map((r) => line(r.name, r.req, r.marker)).join(''));
      statements = 0;
      expect(await ing.pollOnce()).toBe(4);
      for (const n of names) expect(await direct(n)).toEqual(n === replayed.name ? [replayed.req] : []);
      expect(statements).toBeLessThanOrEqual(3);
    }, 60_000);

    it('review of issue 23: the stream cache filling up in the middle of a chunk neither turns a brokered read into a direct one nor lets a later replay of its marker pass', async () => {
      const key = deriveBrokerMarkerKey(Buffer.from('int test marker key'));
      const pathOf = (name: string) => `${mount}/data/${prefix}/${project}/${name}/0123456789abcdef-fedcba9876543210`;
      const line = (name: string, id: string, marker: string) =>
        JSON.stringify({ ...FIX.job_read, request: { ...FIX.job_read.request, id, path: pathOf(name), headers: { 'x-pipeline-secrets-broker': [marker] } } }) + '\n';
      const names = ['FULL_A', 'FULL_B'];
      const reads = await Promise.all(
        names.map(async (name) => {
          const accessedId = randomUUID();
          await store.appendToStream(`access-${project}/${name}`, 'any', [
            { eventId: accessedId, type: 'SecretAccessed', schemaVersion: 1, data: { projectId: project, name, version: 1, principal: { type: 'ci-job', id: 'x' }, via: { scope: 'branch' }, purpose: null }, metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'ci-job', id: 'x' }, occurredAt: new Date().toISOString() } },
          ]);
          return { name, req: randomUUID(), marker: brokerMarker(key, pathOf(name), accessedId) };
        }),
      );
      const f = join(dir, 'cache-full.log');
      writeFileSync(f, reads.map((r) => line(r.name, r.req, r.marker)).join(''));
      const ing = new OpenBaoAuditIngester(store, sql, { file: f, scope: { ...scope, markerKey: key } }, new JsonLogger('error'));
      await ing.start();
      await ing.stop();
      // 9,998 streams cached: the chunk's first new stream fills the cache, a later one clears it.
      const cache = (ing as unknown as { accessed: Map<string, { next: number; ids: Map<string, string> }> }).accessed;
      for (let i = 0; i < 9_998; i++) cache.set(`access-filler-${i}`, { next: 0, ids: new Map() });
      expect(await ing.pollOnce()).toBe(2);
      const direct = async (name: string) => (await store.readStream(`access-${project}/${name}`)).filter((e) => (e.data.via as { channel?: string }).channel === 'openbao').map((e) => (e.data.via as { requestId: string }).requestId);
      for (const n of names) expect(await direct(n)).toEqual([]); // both brokered: the command API recorded them
      // the job replays the first read's marker: recorded as a direct read, never taken for a first use
      const replay = randomUUID();
      appendFileSync(f, line(reads[0].name, replay, reads[0].marker));
      expect(await ing.pollOnce()).toBe(1);
      expect(await direct(reads[0].name)).toEqual([replay]);
    }, 60_000);

    it('keeps a bounded window of SecretAccessed ids per access stream and in all; a marker older than the window is still recognised, and its replay still caught', async () => {
      const key = deriveBrokerMarkerKey(Buffer.from('int test marker key'));
      const name = 'WINDOWED';
      const stream = `access-${project}/${name}`;
      const pathOf = (n: string) => `${mount}/data/${prefix}/${project}/${n}/0123456789abcdef-fedcba9876543210`;
      const line = (id: string, marker: string) => JSON.stringify({ ...FIX.job_read, request: { ...FIX.job_read.request, id, path: pathOf(name), headers: { 'x-pipeline-secrets-broker': [marker] } } }) + '\n';
      const ids = Array.from({ length: 10 }, () => randomUUID());
      await store.appendToStream(
        stream,
        'any',
        ids.map((eventId) => ({ eventId, type: 'SecretAccessed', schemaVersion: 1, data: { projectId: project, name, version: 1, principal: { type: 'ci-job', id: 'x' }, via: { scope: 'branch' }, purpose: null }, metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'ci-job' as const, id: 'x' }, occurredAt: new Date().toISOString() } })),
      );
      const f = join(dir, 'windowed.log');
      writeFileSync(f, '');
      const ing = new OpenBaoAuditIngester(store, sql, { file: f, scope: { ...scope, markerKey: key }, accessIds: { perStream: 3, total: 8 } }, new JsonLogger('error'));
      await ing.start();
      await ing.stop();
      const cache = (ing as unknown as { accessed: Map<string, { ids: Map<string, string>; trimmed: boolean }> }).accessed;
      const direct = async () => (await store.readStream(stream)).filter((e) => (e.data.via as { channel?: string }).channel === 'openbao').map((e) => (e.data.via as { requestId: string }).requestId);
      // the newest and the oldest of ten: the window holds three, the oldest is looked up
      appendFileSync(f, line(randomUUID(), brokerMarker(key, pathOf(name), ids[9])) + line(randomUUID(), brokerMarker(key, pathOf(name), ids[0])));
      expect(await ing.pollOnce()).toBe(2);
      expect(await direct()).toEqual([]);
      expect(cache.get(stream)!.ids.size).toBe(3);
      expect(cache.get(stream)!.trimmed).toBe(true);
      // the oldest marker replayed by another request: a direct read
      const replay = randomUUID();
      appendFileSync(f, line(replay, brokerMarker(key, pathOf(name), ids[0])));
      expect(await ing.pollOnce()).toBe(1);
      expect(await direct()).toEqual([replay]);
      // a marker naming no SecretAccessed of the stream at all: a direct read too
      const stranger = randomUUID();
      appendFileSync(f, line(stranger, brokerMarker(key, pathOf(name), randomUUID())));
      expect(await ing.pollOnce()).toBe(1);
      expect(await direct()).toEqual([replay, stranger]);
      // past the total (8 ids added: 10 read), the next new stream starts the cache afresh
      const other = `access-${project}/OTHER_WINDOWED`;
      const otherId = randomUUID();
      await store.appendToStream(other, 'any', [{ eventId: otherId, type: 'SecretAccessed', schemaVersion: 1, data: { projectId: project, name: 'OTHER_WINDOWED', version: 1, principal: { type: 'ci-job', id: 'x' }, via: { scope: 'branch' }, purpose: null }, metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'ci-job', id: 'x' }, occurredAt: new Date().toISOString() } }]);
      appendFileSync(f, JSON.stringify({ ...FIX.job_read, request: { ...FIX.job_read.request, id: randomUUID(), path: pathOf('OTHER_WINDOWED'), headers: { 'x-pipeline-secrets-broker': [brokerMarker(key, pathOf('OTHER_WINDOWED'), otherId)] } } }) + '\n');
      expect(await ing.pollOnce()).toBe(1);
      expect(cache.has(stream)).toBe(false);
      expect([...cache.keys()].some((k) => k.includes('OTHER_WINDOWED'))).toBe(true);
    }, 60_000);

    it('issue 23: while OpenBao is writing the ingester looks again after 10 ms, idle after pollMs (100)', async () => {
      const f = join(dir, 'pace.log');
      writeFileSync(f, '');
      const delays: number[] = [];
      const real = global.setTimeout;
      const spy = jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
        delays.push(ms ?? 0);
        return real(fn, ms);
      }) as typeof setTimeout);
      const ing = new OpenBaoAuditIngester(store, sql, { file: f, scope }, new JsonLogger('error'));
      try {
        await ing.start();
        const polled = async (n: number) => {
          const end = Date.now() + 10_000;
          while (delays.filter((d) => d === 10 || d === 100).length < n && Date.now() < end) await new Promise((r) => real(r, 5));
        };
        await polled(1); // first poll: nothing there
        appendFileSync(f, entry(randomUUID()) + entry(randomUUID()));
        await polled(3);
        const paced = delays.filter((d) => d === 10 || d === 100);
        expect(paced[0]).toBe(100); // idle
        expect(paced).toContain(10); // a poll that read lines
        expect(paced.at(-1)).toBe(100); // idle again after the read
      } finally {
        spy.mockRestore();
        await ing.stop();
      }
    }, 30_000);

    it("issue 20: a job's batch through its project reads a group secret (the SecretAccessed is in access-<project>): the v2 marker naming that place makes it brokered; a v1 marker, or a place the event is not in, leaves it a direct read", async () => {
      const key = deriveBrokerMarkerKey(Buffer.from('int test marker key'));
      const run = randomUUID().slice(0, 8);
      const group = `acme-${run}/payments`;
      const jobProject = `pay-${run}`;
      const path = `${mount}/data/${prefix}/_groups/${group}/REGISTRY_TOKEN/0123456789abcdef-fedcba9876543210`;
      const line = (id: string, marker: string) =>
        JSON.stringify({ ...FIX.job_read, request: { ...FIX.job_read.request, id, path, headers: { 'x-pipeline-secrets-broker': [marker] } } }) + '\n';
      // the batch's SecretAccessed, in the job's project's access log (secret-access.ts: a batch appends to access-<endpoint place>)
      const accessedId = randomUUID();
      const data = { projectId: `group:${group}`, name: 'REGISTRY_TOKEN', version: 1, principal: { type: 'ci-job', id: 'x' }, via: { scope: 'ci-job-scope' }, purpose: null, jobProjectId: jobProject };
      await store.appendToStream(`access-${jobProject}`, 'any', [
        { eventId: accessedId, type: 'SecretAccessed', schemaVersion: 1, data, metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'ci-job', id: 'x' }, occurredAt: new Date().toISOString() } },
      ]);
      const [v2, v1, wrongPlace] = Array.from({ length: 3 }, () => randomUUID());
      const f = join(dir, 'group-markers.log');
      writeFileSync(f, line(v2, brokerMarker(key, path, accessedId, jobProject)) + line(v1, brokerMarker(key, path, randomUUID())) + line(wrongPlace, brokerMarker(key, path, randomUUID(), `other-${run}`)));
      const ing = new OpenBaoAuditIngester(store, sql, { file: f, scope: { ...scope, markerKey: key } }, new JsonLogger('error'));
      await ing.start();
      await ing.stop();
      expect(await ing.pollOnce()).toBe(3);
      const direct = (await store.readStream(`access-group:${group}/REGISTRY_TOKEN`)).filter((e) => (e.data.via as { channel?: string }).channel === 'openbao');
      expect(direct.map((e) => (e.data.via as { requestId: string }).requestId)).toEqual([v1, wrongPlace]);
      // each recorded against the group's secret, with the job's project (the fixture's token is a job of its project)
      expect(direct.map((e) => [e.data.projectId, e.data.name, e.data.jobProjectId])).toEqual([
        [`group:${group}`, 'REGISTRY_TOKEN', project],
        [`group:${group}`, 'REGISTRY_TOKEN', project],
      ]);
    }, 60_000);

    it('issue 18 item 4: unauthenticated denials (no token, an unknown one) are one summary per remote address and window, never one event each; invalid ids are dropped; counted; a restart and a re-read change nothing', async () => {
      // real OpenBao 2.7.2 entries of a read with no token and with a bogus one, on fresh request ids, paths and addresses
      const uscope = { kvMount: 'secret', kvPrefix: `ps-unauth-${randomUUID().slice(0, 8)}`, jwtMount: 'jwt-ci' };
      // a window's start 30-90 s ago, so that the next window (t0 + 60 s) ends 30-90 s from now: the windows below close by the entries' times, not by the clock
      const t0 = Math.ceil((Date.now() + 30_000) / 60_000) * 60_000 - 120_000;
      const sent = new Set<string>();
      const deny = (fix: Record<string, any>, id: string, projectId: string, ms: number, remote: string) =>
        sent.add(id) &&
        JSON.stringify({ ...fix, time: new Date(t0 + ms).toISOString(), request: { ...fix.request, id, path: `secret/data/${uscope.kvPrefix}/${projectId}/ALPHA`, remote_address: remote } }) + '\n';
      const A = '203.0.113.7';
      const B = '198.51.100.9';
      let lines = '';
      for (let i = 0; i < 300; i++) lines += deny(i % 2 ? FIX.no_token_denied : FIX.bad_token_denied, randomUUID(), `probe-${i}`, i * 10, A); // 300 projects the API never saw
      for (let i = 0; i < 100; i++) lines += deny(FIX.no_token_denied, randomUUID(), 'payments', i * 10, B);
      for (const bad of ['NOT_A_PROJECT', '-x', 'p'.repeat(65), 'ab%2F..']) lines += deny(FIX.no_token_denied, randomUUID(), bad, 500, A); // ids the API rejects
      const lateA = randomUUID();
      const closingA = deny(FIX.no_token_denied, lateA, 'probe-late', 65_000, A); // A's next window: closes A's first, and B's by time
      const f4 = join(dir, 'unauth.log');
      writeFileSync(f4, lines + closingA);
      const metrics = new Metrics();
      const make = () => new OpenBaoAuditIngester(store, sql, { file: f4, scope: uscope, denialWindowSeconds: 60, metrics }, new JsonLogger('error'));
      const a = make();
      await a.start();
      await a.stop();
      expect(await a.pollOnce()).toBe(405);
      const denials = async () => (await store.readAll({ streamPrefixes: ['access-'] })).filter((e) => sent.has(String((e.data.via as { requestId?: string } | undefined)?.requestId)));
      const summaries = async () => (await store.readStream('access-*')).filter((e) => String((e.data.principal as { id: string }).id).match(/203\.0\.113\.7|198\.51\.100\.9/));
      expect(await denials()).toEqual([]);
      let s = await summaries();
      expect(s.map((e) => [e.type, e.data.projectId, (e.data.principal as { id: string }).id, e.data.reason, e.data.count, e.data.projects, e.data.windowSeconds])).toEqual([
        ['SecretAccessDenialsSuppressed', '*', `openbao-unauthenticated:${A}`, 'openbao-denied', 300, 300, 60],
        ['SecretAccessDenialsSuppressed', '*', `openbao-unauthenticated:${B}`, 'openbao-denied', 100, 1, 60],
      ]);
      expect(s[0].data).toMatchObject({ firstAt: new Date(t0).toISOString(), lastAt: new Date(t0 + 2990).toISOString() });
      const counted = async (reason: string) => ((await metrics.registry.getSingleMetric('openbao_audit_entries_not_recorded_total')!.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0);
      expect(await counted('unauthenticated-folded')).toBe(401);
      expect(await counted('invalid-path')).toBe(4);
      // A's second window is open: the stored offset is at its first line, so a restarted auditor rebuilds it
      const { rows } = await sql.query<{ byte_offset: string }>('SELECT byte_offset::text AS byte_offset FROM openbao_audit_offsets WHERE device = $1', [f4]);
      expect(Number(rows[0].byte_offset)).toBe(Buffer.byteLength(lines));
      const b = make();
      expect(await b.pollOnce()).toBe(1);
      appendFileSync(f4, deny(FIX.no_token_denied, randomUUID(), 'probe-late-2', 66_000, A) + deny(FIX.no_token_denied, randomUUID(), 'other', 200_000, '192.0.2.1'));
      expect(await b.pollOnce()).toBe(2);
      s = await summaries();
      expect(s.map((e) => e.data.count)).toEqual([300, 100, 2]);
      // a re-read of the whole file from 0 adds nothing
      await b.resetOffset();
      expect(await make().pollOnce()).toBe(407);
      expect((await summaries()).map((e) => e.eventId)).toEqual(s.map((e) => e.eventId));
      expect(await denials()).toEqual([]);
    }, 60_000);

    it('round-3 review item 1: denials by a KNOWN token are bounded per token and window: the first DENIAL_RATE_PER_MINUTE recorded, the rest one summary; counted; a restart mid-window and a re-read change nothing', async () => {
      // real OpenBao 2.7.2 entries: a CI job token refused (another project's path) and one reading a missing path (404)
      const kscope = { kvMount: 'secret', kvPrefix: `ps-known-${randomUUID().slice(0, 8)}`, jwtMount: 'jwt-ci' };
      const t0 = Math.ceil((Date.now() + 30_000) / 60_000) * 60_000 - 120_000;
      const sent = new Set<string>();
      const deny = (fix: Record<string, any>, accessor: string, projectId: string, ms: number) => {
        const id = randomUUID();
        sent.add(id);
        return JSON.stringify({ ...fix, time: new Date(t0 + ms).toISOString(), auth: { ...fix.auth, accessor, entity_id: `entity-of-${accessor}` }, request: { ...fix.request, id, client_token_accessor: accessor, path: `secret/data/${kscope.kvPrefix}/${projectId}/ALPHA` } }) + '\n';
      };
      const J1 = `hmac-sha256:${randomUUID()}`;
      const J2 = `hmac-sha256:${randomUUID()}`;
      let first = '';
      for (let i = 0; i < 100; i++) first += deny(FIX.denied, J1, `victim-${i % 30}`, i * 100); // 100 refusals of other projects' paths in one window
      for (let i = 0; i < 50; i++) first += deny(FIX.missing_read, J1, 'p', 10_000 + i * 100); // and 50 reads of missing paths
      for (let i = 0; i < 5; i++) first += deny(FIX.denied, J2, 'victim-0', 20_000 + i); // another job identity (its own entity): its own bound
      const second = deny(FIX.denied, J1, 'victim-0', 65_000) + deny(FIX.denied, J2, 'victim-0', 65_001); // the next window closes the first
      const f5 = join(dir, 'known.log');
      writeFileSync(f5, first);
      const metrics = new Metrics();
      const make = () => new OpenBaoAuditIngester(store, sql, { file: f5, scope: kscope, denialWindowSeconds: 60, denialRatePerMinute: 60, metrics }, new JsonLogger('error'));
      const denials = async () => (await store.readAll({ streamPrefixes: ['access-'] })).filter((e) => e.type === 'SecretAccessDenied' && sent.has(String((e.data.via as { requestId?: string } | undefined)?.requestId)));
      const summaries = async () => (await store.readStream('access-*')).filter((e) => String((e.data.principal as { id: string }).id).startsWith('jwt-ci-') && e.data.count !== undefined && (e.metadata.occurredAt ?? '') >= new Date(t0).toISOString() && (e.metadata.occurredAt ?? '') < new Date(t0 + 60_000).toISOString());
      // a restart in the middle of the first window: the stored offset keeps the open window re-readable
      const a = make();
      await a.start();
      await a.stop();
      expect(await a.pollOnce()).toBe(155);
      // counted once by the process that read them (a restart that re-reads an open window counts again)
      expect((await metrics.registry.getSingleMetric('openbao_audit_entries_not_recorded_total')!.get()).values.find((v) => v.labels.reason === 'token-folded')?.value).toBe(90);
      const b = make();
      appendFileSync(f5, second);
      expect(await b.pollOnce()).toBeGreaterThanOrEqual(2);
      expect((await denials()).length).toBe(60 + 5 + 2);
      const s = await summaries();
      expect(s.map((e) => [e.type, e.data.projectId, e.data.reason, e.data.count, e.data.rateLimited, e.data.projects, e.data.windowSeconds])).toEqual([['SecretAccessDenialsSuppressed', '*', 'rate-limited', 90, 90, 31, 60]]);
      expect((s[0].data.principal as { type: string }).type).toBe('ci-job');
      // a re-read of the whole file from 0 adds nothing
      await b.resetOffset();
      await make().pollOnce();
      expect((await denials()).length).toBe(67);
      expect((await summaries()).map((e) => e.eventId)).toEqual(s.map((e) => e.eventId));
    }, 60_000);

    it('round-3 review item 2: a job token with an identity policy besides its role reads unattributed, and the escalation is one OpenBaoDriftDetected (identity-policy) however often it reads', async () => {
      const AFIX = JSON.parse(readFileSync(join(__dirname, '../../../libs/domain/src/openbao-audit/fixtures/openbao-2.7.2-attack-entries.json'), 'utf8'));
      const iscope = { kvMount: 'secret', kvPrefix: 'ps', jwtMount: 'jwt-ci' };
      const entity = randomUUID();
      const reqs = [randomUUID(), randomUUID(), randomUUID()];
      const f6 = join(dir, 'identity.log');
      writeFileSync(f6, reqs.map((id) => JSON.stringify({ ...AFIX.identityPolicyRead, auth: { ...AFIX.identityPolicyRead.auth, entity_id: entity }, request: { ...AFIX.identityPolicyRead.request, id } }) + '\n').join(''));
      const ing = new OpenBaoAuditIngester(store, sql, { file: f6, scope: iscope }, new JsonLogger('error'));
      await ing.start();
      await ing.stop();
      await ing.pollOnce();
      const reads = (await store.readStream('access-bank/TOKEN')).filter((e) => (reqs as string[]).includes(String((e.data.via as { requestId: string }).requestId)));
      expect(reads.map((e) => [e.type, (e.data.principal as { type: string; id: string }).type, (e.data.principal as { id: string }).id])).toEqual(reqs.map(() => ['SecretAccessed', 'user', 'openbao-unattributed:jwt-ci-project_path:victim']));
      const drift = (await store.readStream('openbao-drift')).filter((e) => String(e.data.path) === `identity/entity/id/${entity}`);
      expect(drift.map((e) => [e.type, e.data.operation, e.data.who])).toEqual([['OpenBaoDriftDetected', 'identity-policy', { displayName: 'jwt-ci-project_path:victim', policies: ['extra'] }]]);
    }, 60_000);

    it('owned writes: a forged or replayed marker is drift, a valid first use is not', async () => {
      const key = deriveBrokerMarkerKey(Buffer.from('int test marker key'));
      const wpath = 'sys/policies/acl/ps-ci-int-1';
      const write = (id: string, marker: string) => JSON.stringify({ ...FIX.write, request: { ...FIX.write.request, id, path: wpath, headers: { 'x-pipeline-secrets-broker': [marker] } } }) + '\n';
      const [forged, valid, replay] = Array.from({ length: 3 }, () => randomUUID());
      const m = brokerMarker(key, wpath);
      const f3 = join(dir, 'writes.log');
      writeFileSync(f3, write(forged, 'pipeline-secrets') + write(valid, m) + write(replay, m));
      const seen: string[] = [];
      const ing = new OpenBaoAuditIngester(store, sql, { file: f3, scope: { ...scope, markerKey: key }, onOwnedWrite: async (w) => void seen.push(w.requestId) }, new JsonLogger('error'));
      await ing.start();
      await ing.stop();
      expect(await ing.pollOnce()).toBe(3);
      expect(seen).toEqual([forged, replay]);
    }, 60_000);
  });
}
