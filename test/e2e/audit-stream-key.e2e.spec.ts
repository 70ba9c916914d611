import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { AuditorModule } from '../../apps/auditor/src/auditor.module';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';

// GET /v1/audit/stream serves the lines audit.jsonl holds: the same fields (the Kafka `key`
// included) and, for NDJSON, the same bytes, so one parser reads both.
describe('audit stream lines are audit.jsonl lines (embedded profile)', () => {
  let t: EmbeddedApp;
  const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
  beforeAll(async () => {
    t = await startEmbedded();
  });
  afterAll(() => t?.close());

  it('each NDJSON line carries index, eventId, eventType, key and record, byte-identical to the file', async () => {
    const http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    expect((await http.post('/v1/projects/keyed/grants').set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    const olive = await t.userToken('olive');
    expect((await http.post('/v1/projects/keyed/secrets').set(auth(olive)).send({ name: 'TOKEN', value: 'stream-key-canary' })).status).toBe(201);
    expect(await t.app.get(AuditorModule).idle()).toBe(true);
    const file = readFileSync(join(t.dataDir, 'audit', 'audit.jsonl'), 'utf8').split('\n').filter(Boolean);
    expect(file.length).toBe(2);

    const server = t.app.getHttpServer();
    const address = server.address() ?? (await new Promise((r) => server.listen(0, () => r(server.address()))));
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${(address as { port: number }).port}/v1/audit/stream?after=-1`, { headers: auth(olive), signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    const until = Date.now() + 10_000;
    while (text.split('\n').filter(Boolean).length < file.length && Date.now() < until) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    controller.abort();
    const lines = text.split('\n').filter(Boolean);
    expect(lines).toEqual(file);
    expect(lines.map((l) => Object.keys(JSON.parse(l)))).toEqual(file.map(() => ['index', 'eventId', 'eventType', 'key', 'record']));
    expect(lines.map((l) => JSON.parse(l).key)).toEqual(['keyed/*', 'keyed/TOKEN']);
  }, 30_000);
});
