import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { writeTestMasterKey } from '../support/test-master-key';

// The production profile's write path against a real PostgreSQL (scripts/stack provides it).
const DATABASE_URL = process.env.DATABASE_URL;
const CANARY = `pg-canary-${randomUUID()}`;

if (!DATABASE_URL) {
  console.warn('SKIPPED production-profile e2e on PostgreSQL: DATABASE_URL not set (scripts/test-all sets it)');
  describe.skip('production profile on PostgreSQL — SKIPPED, DATABASE_URL not set', () => it('needs DATABASE_URL', () => undefined));
} else {
  describe('production profile on PostgreSQL, end to end', () => {
    let t: EmbeddedApp;
    const P = `prod-${randomUUID().slice(0, 8)}`;
    beforeAll(async () => {
      const keyDir = mkdtempSync(join(tmpdir(), 'ps-key-'));
      t = await startEmbedded({ env: { PROFILE: 'production', DATABASE_URL, DEV_ISSUER: '1', MASTER_KEY_FILE: writeTestMasterKey(keyDir) } });
    });
    afterAll(() => t?.close());

    it('bootstraps, creates, lets a CI job read, denies a reporter, and revokes at once', async () => {
      const http = request(t.app.getHttpServer());
      const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
      const admin = await t.userToken('root', { admin: true });
      const alice = await t.userToken('alice');
      const bob = await t.userToken('bob');
      expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'alice' }, role: 'owner' })).status).toBe(201);
      expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'DB_PASSWORD', value: CANARY, environment: 'production' })).status).toBe(201);
      const job = await t.ciToken({ project: P, ref: 'main', environment: 'production' });
      const read = await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(job)).send({});
      expect(read.body).toEqual({ name: 'DB_PASSWORD', version: 1, value: CANARY, source: { type: 'project', id: P } });
      const g = await http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'user', id: 'bob' }, role: 'reporter' });
      expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(bob)).send({})).status).toBe(403);
      expect((await http.delete(`/v1/projects/${P}/grants/${g.body.grantId}`).set(auth(alice))).status).toBe(204);
      const list = await http.get(`/v1/projects/${P}/secrets`).set(auth(bob));
      expect(list.status).toBe(403);
      expect(list.body.reason).toBe('grant-revoked');
      expect((await http.get('/readyz')).status).toBe(200);
    });

    it('CANARY: the value is in no PostgreSQL table in plaintext, and no log line', async () => {
      const { rows } = await t.infra.sql.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
      );
      expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['es_events', 'secret_values', 'rm_secrets']));
      for (const { table_name } of rows) {
        const dump = await t.infra.sql.query<{ t: string }>(`SELECT string_agg(x::text, E'\\n') AS t FROM "${table_name}" x`);
        const text = dump.rows[0].t ?? '';
        // bytea renders as hex: look for the hex form too.
        const leaks = text.includes(CANARY) || text.includes(Buffer.from(CANARY, 'utf8').toString('hex'));
        expect({ table: table_name, leaks }).toEqual({ table: table_name, leaks: false });
      }
      expect(t.logs.join('\n')).not.toContain(CANARY);
    });
  });
}
