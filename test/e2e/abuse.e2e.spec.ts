import request from 'supertest';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';

// Abuse is bounded (issue 9, item 5): the live audit stream's slots per identity, and a revoked
// auditor's stream ends within a few seconds.
describe('abuse bounds, embedded profile', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let port: number;
  let owner: string, audrey: string;
  let audreyGrant: string;
  const P = 'abuse-demo';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await startEmbedded({ env: { AUDIT_CHECKPOINT_SECONDS: '1' } });
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as { port: number }).port;
    http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    owner = await t.userToken('olive');
    audrey = await t.userToken('audrey');
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    const g = await http.post(`/v1/projects/${P}/grants`).set(auth(owner)).send({ principal: { type: 'user', id: 'audrey' }, role: 'auditor' });
    expect(g.status).toBe(201);
    audreyGrant = g.body.grantId ?? g.body.id;
    expect(typeof audreyGrant).toBe('string');
    // The projected grants (candidates for the stream) must have caught up.
    // (polled on the checkpoint endpoint, which needs the same access but holds no stream slot)
    for (let i = 0; i < 100 && (await http.get('/v1/audit/checkpoints/latest').set(auth(audrey))).status === 403; i++) await new Promise((r) => setTimeout(r, 100));
  }, 30_000);
  afterAll(async () => t?.close());

  it('one identity gets at most its own share of stream slots: 429 with Retry-After beyond it', async () => {
    const controller = new AbortController();
    try {
      const open = await Promise.all([1, 2, 3, 4].map(() => fetch(`http://127.0.0.1:${port}/v1/audit/stream`, { headers: auth(audrey), signal: controller.signal })));
      expect(open.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const fifth = await fetch(`http://127.0.0.1:${port}/v1/audit/stream`, { headers: auth(audrey) });
      expect(fifth.status).toBe(429);
      expect(Number(fifth.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(fifth.headers.get('content-type')).toMatch(/application\/problem\+json/);
      // Another identity still gets a slot: the process-wide pool was not taken.
      const own = await fetch(`http://127.0.0.1:${port}/v1/audit/stream`, { headers: auth(owner), signal: controller.signal });
      expect(own.status).toBe(200);
    } finally {
      controller.abort();
    }
  });

  it('a revocation ends a running stream within a few seconds', async () => {
    // Wait until audrey's aborted streams gave their slots back.
    let res: Response | undefined;
    for (let i = 0; i < 50; i++) {
      res = await fetch(`http://127.0.0.1:${port}/v1/audit/stream`, { headers: auth(audrey) });
      if (res.status === 200) break;
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(res!.status).toBe(200);
    const reader = res!.body!.getReader();
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return Date.now();
    })();
    const revokedAt = Date.now();
    expect((await http.delete(`/v1/projects/${P}/grants/${audreyGrant}`).set(auth(owner))).status).toBeLessThan(300);
    const at = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
    expect(at).toBeGreaterThan(0);
    expect(at - revokedAt).toBeLessThan(5_000);
  }, 20_000);
});

// A stranger's valid token hammering invented project ids: 429 past the denial rate, and the
// store holds a bounded number of events (the first denial per key + one summary with the count).
describe('denials are bounded, embedded profile', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await startEmbedded({ env: { DENIAL_RATE_PER_MINUTE: '20', DENIAL_SUMMARY_WINDOW_SECONDS: '2' } });
    http = request(t.app.getHttpServer());
  }, 30_000);
  afterAll(async () => t?.close());

  const denials = async () => (await t.infra.eventStore.readAll()).filter((e) => e.type === 'SecretAccessDenied' || e.type === 'SecretAccessDenialsSuppressed');

  it('repeated identical denials: the first recorded, the rest folded into one summary with the right count', async () => {
    const stranger = await t.userToken('eve');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await http.get('/v1/projects/invented-same/grants').set(auth(stranger))).status);
    expect(statuses).toEqual(Array(10).fill(403));
    let events = await denials();
    expect(events.filter((e) => e.type === 'SecretAccessDenied')).toHaveLength(1);
    for (let i = 0; i < 60 && !(events = await denials()).some((e) => e.type === 'SecretAccessDenialsSuppressed'); i++) await new Promise((r) => setTimeout(r, 100));
    const summary = events.find((e) => e.type === 'SecretAccessDenialsSuppressed')!;
    expect(summary.data).toMatchObject({ projectId: 'invented-same', principal: { type: 'user', id: 'eve' }, count: 9, rateLimited: 0 });
    expect(events).toHaveLength(2);
  });

  it('a stranger hammering invented projects gets 429 with Retry-After past the rate; the store stays bounded', async () => {
    const stranger = await t.userToken('mallory');
    const before = (await denials()).length;
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 200; i++) {
      const r = await http.get(`/v1/projects/invented-${i}/grants`).set(auth(stranger));
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers['retry-after'];
        expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
      }
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(403));
    expect(statuses.slice(20)).toEqual(Array(180).fill(429));
    expect(Number(retryAfter)).toBeGreaterThan(0);
    const started = Date.now();
    const mine = async () => (await denials()).slice(before).filter((e) => (e.data as { principal: { id: string } }).principal.id === 'mallory');
    const folded = (events: { type: string; data: unknown }[]) => events.filter((e) => e.type === 'SecretAccessDenialsSuppressed').reduce((n, e) => n + (e.data as { count: number }).count, 0);
    let events = await mine();
    for (let i = 0; i < 100 && folded(events) < 180; i++) {
      await new Promise((r) => setTimeout(r, 100));
      events = await mine();
    }
    // 20 first denials and the 180 refused with 429 folded into summaries (one per 2 s window), not 200 events.
    expect(events.filter((e) => e.type === 'SecretAccessDenied')).toHaveLength(20);
    const summaries = events.filter((e) => e.type === 'SecretAccessDenialsSuppressed');
    expect(folded(summaries)).toBe(180);
    expect(summaries.reduce((n, e) => n + (e.data as { rateLimited: number }).rateLimited, 0)).toBe(180);
    expect(summaries.every((e) => (e.data as { reason: string }).reason === 'rate-limited')).toBe(true);
    expect(summaries.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 2000) + 2);
    expect(summaries.length).toBeLessThan(10);
  }, 30_000);
});
