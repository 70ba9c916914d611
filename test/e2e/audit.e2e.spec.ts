import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import Ajv2020 from 'ajv/dist/2020';
import { AuditorModule } from '../../apps/auditor/src/auditor.module';
import { logRowsFromNdjson } from '../../apps/cli/src/main';
import { publicKeyFrom, verifyCheckpointConsistency, verifyEvidence, verifyLog, verifyRecordInclusion, VerificationError } from '../../apps/cli/src/verify';
import { EmbeddedApp, filesUnder, startEmbedded } from '../support/embedded-app';
import { eventually, sleep } from '../support/eventually';

const CANARY = `canary-${randomUUID()}-do-not-leak`;

describe('auditor, embedded profile: OCSF records, Merkle log, checkpoints, evidence, live stream', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let admin: string, owner: string, audrey: string, outsider: string, job: string, otherJob: string;
  const P = 'audit-demo';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const auditor = () => t.app.get(AuditorModule);

  beforeAll(async () => {
    t = await startEmbedded({ env: { AUDIT_CHECKPOINT_SECONDS: '1', AUDIT_CHECKPOINT_EVERY_RECORDS: '5', GRANT_EXPIRY_SCAN_SECONDS: '1' } });
    http = request(t.app.getHttpServer());
    admin = await t.userToken('root', { admin: true });
    owner = await t.userToken('olive');
    audrey = await t.userToken('audrey');
    outsider = await t.userToken('mallory');
    job = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production', pipeline: '4242', job: '7' });
    otherJob = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'staging', pipeline: '4242', job: '8' });

    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(owner)).send({ principal: { type: 'user', id: 'audrey' }, role: 'auditor' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name: 'DEPLOY_KEY', value: CANARY, environment: 'production' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets/DEPLOY_KEY/access`).set(auth(job)).send({ purpose: 'deploy' })).status).toBe(200);
    expect((await http.post(`/v1/projects/${P}/secrets/DEPLOY_KEY/access`).set(auth(otherJob)).send({})).status).toBe(403);
    expect(await auditor().idle()).toBe(true);
  }, 30_000);
  afterAll(async () => t?.close());

  it('writes one OCSF record per audit-relevant event to DATA_DIR/audit/audit.jsonl, in log order, mode 0600', async () => {
    const path = join(t.dataDir, 'audit', 'audit.jsonl');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.eventType)).toEqual(['RoleGranted', 'RoleGranted', 'SecretCreated', 'SecretAccessed', 'SecretAccessDenied']);
    expect(lines.map((l) => l.index)).toEqual([0, 1, 2, 3, 4]);
    expect(lines.map((l) => l.record.class_uid)).toEqual([3005, 3005, 6003, 6003, 6003]);
    const denial = lines[4].record;
    expect(denial).toMatchObject({ status_id: 2, status: 'Failure', activity_id: 2, metadata: { version: '1.3.0', uid: lines[4].eventId } });
    expect(denial.status_detail).toBeTruthy();
    expect(lines[3].key).toBe(`${P}/DEPLOY_KEY`);
  });

  it('records validate against the OCSF class schemas kept in the repo', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    require('ajv-formats')(ajv);
    const dir = join(__dirname, '../../libs/domain/src/siem/schema');
    const api = ajv.compile(JSON.parse(readFileSync(join(dir, 'ocsf-1.3.0-api-activity.schema.json'), 'utf8')));
    const uam = ajv.compile(JSON.parse(readFileSync(join(dir, 'ocsf-1.3.0-user-access-management.schema.json'), 'utf8')));
    for (const l of readFileSync(join(t.dataDir, 'audit', 'audit.jsonl'), 'utf8').trim().split('\n').map((x) => JSON.parse(x))) {
      const validate = l.record.class_uid === 6003 ? api : uam;
      expect({ ok: validate(l.record), errors: validate.errors }).toEqual({ ok: true, errors: null });
    }
  });

  it('serves the public key to anyone and checkpoints only to auditors', async () => {
    const pk = await http.get('/v1/audit/public-key');
    expect(pk.status).toBe(200);
    expect(pk.body).toMatchObject({ algorithm: 'ed25519', origin: 'pipeline-secrets.local/audit' });
    expect(pk.body.publicKeyPem).toContain('BEGIN PUBLIC KEY');
    expect((await http.get('/v1/audit/checkpoints/latest')).status).toBe(401);
    expect((await http.get('/v1/audit/checkpoints/latest').set(auth(outsider))).status).toBe(403);
    const cp = await eventually(() => http.get('/v1/audit/checkpoints/latest').set(auth(audrey)), (r) => r.status === 200 && r.text.split('\n')[1] === '5');
    expect(cp.headers['content-type']).toMatch(/^text\/plain/);
    expect(cp.text).toMatch(/^pipeline-secrets\.local\/audit\n5\n[A-Za-z0-9+/]{43}=\n\n\u2014 pipeline-secrets\.local\/audit [A-Za-z0-9+/]+={0,2}\n$/);
  });

  it('a record and its inclusion proof verify offline against the signed checkpoint; a changed record does not', async () => {
    const key = publicKeyFrom((await http.get('/v1/audit/public-key')).body.publicKeyPem);
    const note = (await http.get('/v1/audit/checkpoints/latest').set(auth(audrey))).text;
    const r = await http.get('/v1/audit/records/3').set(auth(audrey));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ index: 3, treeSize: 5, checkpoint: note });
    expect(verifyRecordInclusion(r.body, note, key).ok).toBe(true);
    const forged = structuredClone(r.body);
    forged.record.status_id = 2;
    expect(() => verifyRecordInclusion(forged, note, key)).toThrow(VerificationError);
    expect(() => verifyRecordInclusion({ ...r.body, index: 2 }, note, key)).toThrow(VerificationError);
    const forgedNote = note.replace('\n5\n', '\n4\n');
    expect(() => verifyRecordInclusion({ ...r.body, treeSize: 4 }, forgedNote, key)).toThrow(/signature/);
    expect((await http.get('/v1/audit/records/3').set(auth(outsider))).status).toBe(403);
    expect((await http.get('/v1/audit/records/99999').set(auth(outsider))).status).toBe(403); // strangers do not learn which indices exist
    expect((await http.get('/v1/audit/records/99999').set(auth(audrey))).status).toBe(404);
    expect(() => verifyRecordInclusion(r.body, note, key, { origin: 'staging.example/audit' })).toThrow(/not "staging.example\/audit"/);
    expect(verifyRecordInclusion(r.body, note, key, { origin: 'pipeline-secrets.local/audit' }).ok).toBe(true);
    const bad = await http.get('/v1/audit/records/x1?treeSize=0').set(auth(audrey));
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['index', 'treeSize']);
  });

  it('consistency between an older and a newer checkpoint verifies; the whole log reproduces the signed root', async () => {
    const key = publicKeyFrom((await http.get('/v1/audit/public-key')).body.publicKeyPem);
    expect(await auditor().idle()).toBe(true);
    // The outsider's 403s above were audited too (denials are events): the log has grown past 5.
    const size = await t.infra.auditLog.committedSize();
    const old = (await eventually(() => http.get('/v1/audit/checkpoints/latest').set(auth(audrey)), (r) => r.text.split('\n')[1] === String(size))).text;
    for (let i = 0; i < 3; i++) expect((await http.post(`/v1/projects/${P}/secrets/DEPLOY_KEY/access`).set(auth(job)).send({})).status).toBe(200);
    expect(await auditor().idle()).toBe(true);
    const next = await eventually(() => http.get('/v1/audit/checkpoints/latest').set(auth(audrey)), (r) => r.text.split('\n')[1] === String(size + 3));
    const proof = await http.get(`/v1/audit/consistency?from=${size}&to=${size + 3}`).set(auth(audrey));
    expect(proof.status).toBe(200);
    expect(verifyCheckpointConsistency(old, next.text, proof.body, key).ok).toBe(true);
    const tampered = { ...proof.body, proof: [...proof.body.proof].reverse() };
    expect(() => verifyCheckpointConsistency(old, next.text, tampered, key)).toThrow(VerificationError);
    const rows = logRowsFromNdjson(readFileSync(join(t.dataDir, 'audit', 'audit.jsonl'), 'utf8'));
    expect(verifyLog(rows, next.text, key).ok).toBe(true);
    expect((await http.get(`/v1/audit/consistency?from=${size + 3}&to=${size}`).set(auth(audrey))).status).toBe(400);
  });

  it('signs SLSA evidence for the pipeline: every decision, with log indices and a covering checkpoint', async () => {
    const key = publicKeyFrom((await http.get('/v1/audit/public-key')).body.publicKeyPem);
    const digest = createHash('sha256').update('the build artifact').digest('hex');
    // A job of another project with the same pipeline number probes this project: audited here,
    // but not part of this pipeline's evidence.
    const foreign = await t.ciToken({ project: 'other-project', ref: 'main', protected: true, environment: 'production', pipeline: '4242', job: '666' });
    expect((await http.post(`/v1/projects/${P}/secrets/DEPLOY_KEY/access`).set(auth(foreign)).send({})).status).toBe(403);
    const r = await http.post(`/v1/projects/${P}/pipelines/4242/evidence`).set(auth(job)).send({ subjects: [{ name: 'app.tar.gz', digest: { sha256: digest } }] });
    expect(r.status).toBe(200);
    expect(r.body.payloadType).toBe('application/vnd.in-toto+json');
    const { statement } = verifyEvidence(r.body, key, { subjectSha256: digest, projectId: P, pipelineId: '4242', origin: 'pipeline-secrets.local/audit' });
    expect(() => verifyEvidence(r.body, key, { pipelineId: '4243' })).toThrow(/pipeline 4242, not 4243/);
    expect(() => verifyEvidence(r.body, key, { projectId: 'elsewhere' })).toThrow(/not elsewhere/);
    const predicate = statement.predicate as { requestedBy: unknown; accesses: { secret: string; decision: string; job: string; version: number | null; logIndex: number }[] };
    expect(predicate.requestedBy).toMatchObject({ type: 'ci-job', jobId: '7', ref: 'main', refProtected: true });
    expect(predicate.accesses.map((a) => [a.secret, a.decision, a.job])).toEqual([
      ['DEPLOY_KEY', 'allowed', '7'],
      ['DEPLOY_KEY', 'denied', '8'],
      ['DEPLOY_KEY', 'allowed', '7'],
      ['DEPLOY_KEY', 'allowed', '7'],
      ['DEPLOY_KEY', 'allowed', '7'],
    ]);
    expect(predicate.accesses[0].version).toBe(1);
    // Tampering with the envelope breaks it.
    const payload = JSON.parse(Buffer.from(r.body.payload, 'base64').toString());
    payload.predicate.accesses.pop();
    expect(() => verifyEvidence({ ...r.body, payload: Buffer.from(JSON.stringify(payload)).toString('base64') }, key)).toThrow(VerificationError);
    // Another pipeline's job may not attest this one; an auditor may; bad subjects name the field.
    const stranger = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production', pipeline: '999', job: '1' });
    expect((await http.post(`/v1/projects/${P}/pipelines/4242/evidence`).set(auth(stranger)).send({ subjects: [{ name: 'a', digest: { sha256: digest } }] })).status).toBe(403);
    expect((await http.post(`/v1/projects/${P}/pipelines/4242/evidence`).set(auth(audrey)).send({ subjects: [{ name: 'a', digest: { sha256: digest } }] })).status).toBe(200);
    const bad = await http.post(`/v1/projects/${P}/pipelines/4242/evidence`).set(auth(audrey)).send({ subjects: [{ name: 'a', digest: { sha256: 'abc' } }] });
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(bad.body.errors[0].field).toBe('subjects[0].digest.sha256');
  });

  it('streams live records of the caller’s projects as NDJSON', async () => {
    const server = t.app.getHttpServer();
    const address = server.address() ?? (await new Promise((r) => server.listen(0, () => r(server.address()))));
    const port = (address as { port: number }).port;
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/v1/audit/stream?after=-1`, { headers: auth(audrey), signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const reader = res.body!.getReader();
    let text = '';
    const until = Date.now() + 10_000;
    while (text.split('\n').filter((l) => l.trim()).length < 8 && Date.now() < until) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    // At most 4 live streams per principal: a fifth is refused while they run.
    const more = await Promise.all([1, 2, 3].map(() => fetch(`http://127.0.0.1:${port}/v1/audit/stream`, { headers: auth(audrey), signal: controller.signal })));
    expect(more.map((m) => m.status)).toEqual([200, 200, 200]);
    const fifth = await fetch(`http://127.0.0.1:${port}/v1/audit/stream`, { headers: auth(audrey) });
    expect(fifth.status).toBe(429);
    expect(fifth.headers.get("retry-after")).toBeTruthy();
    controller.abort();
    const lines = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    expect(lines.slice(0, 8).map((l) => l.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect((await http.get('/v1/audit/stream').set(auth(outsider))).status).toBe(403);

    // Closed streams give their slot back, even ones whose client never read a byte.
    await sleep(1200);
    const again = await Promise.all([1, 2, 3, 4].map(() => fetch(`http://127.0.0.1:${port}/v1/audit/stream?after=-1`, { headers: auth(audrey) })));
    expect(again.map((m) => m.status)).toEqual([200, 200, 200, 200]);
    for (const m of again) await m.body?.cancel();

        // A stream ends when the token that opened it expires.
    const shortLived = await t.userToken('olive', { ttlSeconds: 2 }); // (audrey's four streams may still be closing)
    const started = Date.now();
    const ending = await fetch(`http://127.0.0.1:${port}/v1/audit/stream`, { headers: auth(shortLived) });
    expect(ending.status).toBe(200);
    await ending.text(); // resolves when the server ends the response
    expect(Date.now() - started).toBeLessThan(6000);
  }, 20_000);

  it('records a grant\'s expiry as an event when it passes: one OCSF Revoke Privileges record, "expired", by the system', async () => {
    const g = await http.post(`/v1/projects/${P}/grants`).set(auth(owner)).send({ principal: { type: 'user', id: 'temp' }, role: 'developer', expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect(g.status).toBe(201);
    const expiredRecords = async () => {
      await auditor().idle();
      const { rows } = await t.infra.sql.query<{ record: string }>(`SELECT record FROM audit_log WHERE event_type = 'RoleExpired'`);
      return rows.map((r) => JSON.parse(r.record));
    };
    const records = await eventually(expiredRecords, (r) => r.length > 0, 15_000);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      class_uid: 3005,
      activity_id: 2,
      status_detail: 'expired',
      user: { uid: 'temp' },
      actor: { user: { uid: 'grant-expiry' } },
      unmapped: { grant: { grant_id: g.body.grantId } },
    });
    // Later scans record nothing more, and the grants read model notes it.
    await sleep(2500);
    expect(await expiredRecords()).toHaveLength(1);
    // rm_grants is the projector's, not the auditor's: wait for it as for any projection.
    const recordedAt = async () => (await t.infra.sql.query<{ expiry_recorded_at: unknown }>('SELECT expiry_recorded_at FROM rm_grants WHERE grant_id = $1', [g.body.grantId])).rows[0]?.expiry_recorded_at ?? null;
    expect(await eventually(recordedAt, (v) => v !== null, 10_000)).not.toBeNull();
  }, 30_000);

  it('no secret value in the audit file, the log table, any served record or any log line', async () => {
    for (const f of filesUnder(join(t.dataDir, 'audit'))) expect(f.bytes.includes(CANARY)).toBe(false);
    const { rows } = await t.infra.sql.query<{ record: string }>('SELECT record FROM audit_log');
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.record).not.toContain(CANARY);
    expect(t.logs.join('\n')).not.toContain(CANARY);
  });
});
