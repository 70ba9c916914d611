import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordedEvent } from '../ports/event-store';
import { toOcsf } from '../siem';
import { auditEventId, brokerMarker, deriveBrokerMarkerKey, interpretAuditLine, kvPathOf, kvSecretOf, MAX_OPEN_FOLDS, readBrokerMarker, UnauthenticatedFolds, verifyBrokerMarker } from '.';

// Response entries written by OpenBao 2.7.2's file audit device (scripts/stack) during the e2e run:
// a CI job's direct read, its refused read (403), a read the command API brokered (marker header)
// and a policy write with the root token.
const FIX = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'openbao-2.7.2-audit-entries.json'), 'utf8')) as Record<string, Record<string, any>>;
const line = (e: object) => JSON.stringify(e);
const scopeOf = (e: Record<string, any>) => {
  const [mount, , prefix] = String(e.request.path).split('/');
  return { kvMount: mount, kvPrefix: prefix, jwtMount: 'jwt-ci' };
};

const KEY = deriveBrokerMarkerKey(Buffer.from('test audit signing key bytes'));
const withMarker = (e: Record<string, any>, ...values: string[]) => ({ ...e, request: { ...e.request, headers: { 'x-pipeline-secrets-broker': values } } });

describe('the broker marker (X-Pipeline-Secrets-Broker): a MAC only the service can make', () => {
  const e = FIX.brokered;
  const path = String(e.request.path);
  const eventId = '0b8a9c2e-5d1f-4e4b-9a57-2f1c3d4e5f60';
  const read = (entry: object) => interpretAuditLine(line(entry), { ...scopeOf(e), markerKey: KEY });

  it('a valid marker for this path is brokered and names the SecretAccessed event id', () => {
    expect(read(withMarker(e, brokerMarker(KEY, `${path}?version=3`, eventId)))).toMatchObject({ kind: 'kv-read', brokered: true, markerId: eventId });
  });

  it('the old plain marker, a forged MAC, a marker made for another path or with another key, two values, or no key: a direct read', () => {
    const valid = brokerMarker(KEY, path, eventId);
    const other = deriveBrokerMarkerKey(Buffer.from('someone else'));
    const cases = [
      withMarker(e, 'pipeline-secrets'),
      withMarker(e, `v1.${eventId}.${'A'.repeat(43)}`),
      withMarker(e, `v1.${eventId}.${valid.split('.')[2].slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`),
      withMarker(e, brokerMarker(KEY, path.replace('/ALPHA', '/BRAVO'), eventId)),
      withMarker(e, brokerMarker(other, path, eventId)),
      withMarker(e, valid.replace(eventId, '0b8a9c2e-5d1f-4e4b-9a57-2f1c3d4e5f61')),
      withMarker(e, valid, valid),
      withMarker(e, `v2${valid.slice(2)}`),
    ];
    for (const c of cases) expect(read(c)).toMatchObject({ kind: 'kv-read', allowed: true, brokered: false, markerId: null });
    expect(interpretAuditLine(line(withMarker(e, valid)), scopeOf(e))).toMatchObject({ brokered: false }); // no key configured: nothing is trusted
  });

  it('verifies the MAC in constant time over v1, the id and the path without its query; a write marker carries a fresh nonce', () => {
    expect(verifyBrokerMarker(KEY, brokerMarker(KEY, `/${path}?version=1`, eventId), path)).toBe(eventId);
    const w1 = brokerMarker(KEY, 'sys/policies/acl/ps-ci-p');
    const w2 = brokerMarker(KEY, 'sys/policies/acl/ps-ci-p');
    expect(w1).not.toBe(w2);
    expect(verifyBrokerMarker(KEY, w1, 'sys/policies/acl/ps-ci-p')).toBe(w1.split('.')[1]);
    expect(verifyBrokerMarker(KEY, w1, 'sys/policies/acl/ps-ci-q')).toBeNull();
    const write = interpretAuditLine(line(withMarker(FIX.write, 'pipeline-secrets')), { kvMount: 'secret', kvPrefix: 'x', jwtMount: 'jwt-ci', markerKey: KEY });
    expect(write).toMatchObject({ kind: 'owned-write', brokered: false });
    const signed = interpretAuditLine(line(withMarker(FIX.write, brokerMarker(KEY, FIX.write.request.path))), { kvMount: 'secret', kvPrefix: 'x', jwtMount: 'jwt-ci', markerKey: KEY });
    expect(signed).toMatchObject({ kind: 'owned-write', brokered: true });
  });
});

describe('interpretAuditLine (OpenBao file audit device)', () => {
  it('a direct read by a CI job: the secret, the KV version, the granting policy, the job from token metadata', () => {
    const e = FIX.job_read;
    const f = interpretAuditLine(line(e), scopeOf(e));
    expect(f).toMatchObject({
      kind: 'kv-read',
      allowed: true,
      requestId: e.request.id,
      name: 'ALPHA',
      brokered: false,
      policy: e.auth.policy_results.granting_policies[0].name,
      accessor: { type: 'ci-job', jobId: e.auth.metadata.job_id, pipelineId: e.auth.metadata.pipeline_id, ref: e.auth.metadata.ref, projectId: e.auth.metadata.project_id },
    });
    expect(f && f.kind === 'kv-read' && f.version).toBe(e.response.data.metadata.version);
  });

  it('a 403 is a refused read; a read with the service marker is brokered; a response with another error is no decision', () => {
    const d = interpretAuditLine(line(FIX.denied), scopeOf(FIX.denied));
    expect(d).toMatchObject({ kind: 'kv-read', allowed: false, name: 'BRAVO', version: null, brokered: false });
    // the fixture's marker is the old plain one ("pipeline-secrets"): anyone can send that, so it is a direct read
    expect(interpretAuditLine(line(FIX.brokered), { ...scopeOf(FIX.brokered), markerKey: KEY })).toMatchObject({ kind: 'kv-read', allowed: true, brokered: false, markerId: null });
    expect(interpretAuditLine(line({ ...FIX.job_read, error: '1 error occurred:\n\t* no handler for route' }), scopeOf(FIX.job_read))).toBeNull();
  });

  it('ignores request entries, other paths, other prefixes, other mounts, and lines that are not JSON', () => {
    const e = FIX.job_read;
    const s = scopeOf(e);
    expect(interpretAuditLine(line({ ...e, type: 'request' }), s)).toBeNull();
    expect(interpretAuditLine(line(e), { ...s, kvPrefix: 'someone-else' })).toBeNull();
    expect(interpretAuditLine(line(e), { ...s, kvMount: 'kv' })).toBeNull();
    expect(interpretAuditLine(line({ ...e, request: { ...e.request, path: 'sys/health' } }), s)).toBeNull();
    expect(interpretAuditLine('{"type":"response",', s)).toBeNull();
    expect(kvSecretOf('secret/data/pipeline-secrets/p', { kvMount: 'secret', kvPrefix: 'pipeline-secrets' })).toBeNull();
    expect(kvSecretOf('secret/data/pipeline-secrets/p/N/v/3', { kvMount: 'secret', kvPrefix: 'pipeline-secrets' })).toEqual({ projectId: 'p', name: 'N' });
  });

  it('a write to a ps-ci- policy, a service JWT role or the JWT mount config is an owned write, with who did it', () => {
    const w = interpretAuditLine(line(FIX.write), { kvMount: 'secret', kvPrefix: 'x', jwtMount: 'jwt-ci' });
    expect(w).toMatchObject({ kind: 'owned-write', path: FIX.write.request.path, operation: 'update', who: { displayName: 'token', policies: ['root'] }, brokered: false, succeeded: true });
    // every role on the service's JWT mount is the projector's, whatever its name (round-3 review item 3: `backdoor` with a ps-ci- policy)
    for (const path of ['auth/jwt-ci/role/ps-ci-a-1', 'auth/jwt-ci/config', 'auth/jwt-ci/role/someone', 'auth/jwt-ci/role/backdoor']) {
      expect(interpretAuditLine(line({ ...FIX.write, request: { ...FIX.write.request, path } }), { kvMount: 'secret', kvPrefix: 'x', jwtMount: 'jwt-ci' })).toMatchObject({ kind: 'owned-write', path });
    }
    expect(interpretAuditLine(line({ ...FIX.write, request: { ...FIX.write.request, path: 'auth/jwt-ci/role/BackDoor' } }), { kvMount: 'secret', kvPrefix: 'x', jwtMount: 'jwt-ci' })).toMatchObject({ kind: 'owned-write', path: 'auth/jwt-ci/role/backdoor' });
    for (const path of ['sys/policies/acl/platform-admin', 'auth/jwt-other/role/ps-ci-a', 'auth/jwt-ci/role/', 'auth/jwt-ci/roles/x']) {
      expect(interpretAuditLine(line({ ...FIX.write, request: { ...FIX.write.request, path } }), { kvMount: 'secret', kvPrefix: 'x', jwtMount: 'jwt-ci' })).toBeNull();
    }
  });

  it('never carries a string of the entry it was not asked for: no HMACed value, token or accessor', () => {
    for (const e of Object.values(FIX)) {
      const f = interpretAuditLine(line(e), scopeOf(e));
      expect(JSON.stringify(f)).not.toContain('hmac-sha256');
    }
  });

  it('one event id per OpenBao request id and purpose, a valid UUID', () => {
    const a = auditEventId('11e92aab-dc04-9c0b-73b1-458b7850e07f', 'SecretAccessed');
    expect(a).toBe(auditEventId('11e92aab-dc04-9c0b-73b1-458b7850e07f', 'SecretAccessed'));
    expect(a).not.toBe(auditEventId('11e92aab-dc04-9c0b-73b1-458b7850e07f', 'SecretAccessDenied'));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('OCSF records of direct reads and drift (API Activity 6003, official 1.3.0 schema)', () => {
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(join(__dirname, '..', 'siem', 'schema', 'ocsf-1.3.0-api-activity.schema.json'), 'utf8')));
  const opts = { productName: 'pipeline-secrets-audit', productVersion: '0.1.0', vendorName: 'example.org', burst: false };
  const rec = (type: string, data: Record<string, unknown>, actor = { type: 'ci-job' as const, id: 'sub-1' }): RecordedEvent => ({
    eventId: auditEventId('r-1', type),
    type,
    schemaVersion: 1,
    data,
    metadata: { correlationId: 'r-1', causationId: 'r-1', actor, occurredAt: '2026-12-02T13:37:06.470Z', source: 'openbao-audit' },
    streamName: 'x',
    revision: 0,
    position: { commit: 1n, prepare: 1n },
    recordedAt: '2026-12-02T13:37:06.500Z',
  });
  const job = { type: 'ci-job', id: 'sub-1', pipelineId: '77', jobId: '5', ref: 'main' };
  const valid = (r: unknown) => {
    const ok = validate(r);
    expect(ok ? [] : validate.errors).toEqual([]);
  };

  it('a direct read and a refused one: the request id and policy in unmapped.openbao and actor.authorizations', () => {
    const read = toOcsf(rec('SecretAccessed', { projectId: 'p', name: 'N', version: 1, principal: job, via: { channel: 'openbao', requestId: 'r-1', policy: 'ps-ci-p' }, purpose: null }), opts) as any;
    valid(read);
    expect(read.unmapped.openbao).toEqual({ request_id: 'r-1', policy: 'ps-ci-p' });
    expect(read.actor.authorizations).toEqual([{ decision: 'Allowed', policy: { uid: 'r-1', name: 'ps-ci-p' } }]);
    expect(read.unmapped.ci).toMatchObject({ pipeline_id: '77', job_id: '5' });
    const denied = toOcsf(rec('SecretAccessDenied', { projectId: 'p', name: 'N', action: 'read', principal: job, reason: 'openbao-denied', purpose: null, via: { channel: 'openbao', requestId: 'r-2', policy: null } }), opts) as any;
    valid(denied);
    expect(denied).toMatchObject({ status_id: 2, status_detail: 'openbao-denied', unmapped: { openbao: { request_id: 'r-2', policy: null } } });
  });

  it('drift detected (by the writer, High) and repaired (by the service)', () => {
    const detected = toOcsf(
      rec('OpenBaoDriftDetected', { projectId: '*', who: { displayName: 'token', policies: ['root'] }, path: 'sys/policies/acl/ps-ci-p', operation: 'update', at: '2026-12-02T13:37:06.470Z', requestId: 'r-3' }, { type: 'user', id: 'openbao-token:token' } as never),
      opts,
    ) as any;
    valid(detected);
    expect(detected).toMatchObject({ class_uid: 6003, activity_id: 3, severity_id: 4, api: { operation: 'OpenBaoWrite' }, resources: [{ type: 'openbao-acl-policy', uid: 'sys/policies/acl/ps-ci-p' }] });
    const repaired = toOcsf(rec('OpenBaoDriftRepaired', { projectId: '*', requestId: 'r-3', path: 'sys/policies/acl/ps-ci-p', written: ['policy/ps-ci-p'], removed: [], at: '2026-12-02T13:37:07.000Z' }, { type: 'system', id: 'openbao-drift-repair' } as never), opts) as any;
    valid(repaired);
    expect(repaired).toMatchObject({ activity_id: 3, severity_id: 1, api: { operation: 'RepairOpenBaoDrift' }, unmapped: { openbao_drift: { request_id: 'r-3', written: ['policy/ps-ci-p'] } } });
  });
});

// Issue 18 (items 4, 6, 11, 12), on entries OpenBao 2.7.2's file audit device wrote (a private dev
// server: JWT mount `jwt-ci`, KV prefix `ps`, project `p`): what the ingester may believe of them.
describe('what an audit entry proves (issue 18)', () => {
  const scope = { kvMount: 'secret', kvPrefix: 'ps', jwtMount: 'jwt-ci' };
  const at = (e: Record<string, any>, path: string) => ({ ...e, request: { ...e.request, path } });

  it('item 11: a token made by hand with a CI job\'s metadata is unattributed; only a login on the service\'s JWT mount with its own ps-ci- role is the job', () => {
    expect(interpretAuditLine(line(FIX.jwt_login_read), scope)).toMatchObject({ kind: 'kv-read', allowed: true, accessor: { type: 'ci-job', jobId: '5', pipelineId: '77', projectId: 'p' } });
    const forged = interpretAuditLine(line(FIX.forged_metadata_read), scope);
    expect(forged).toMatchObject({ kind: 'kv-read', allowed: true, accessor: { type: 'token', id: FIX.forged_metadata_read.auth.display_name } });
    expect(JSON.stringify(forged)).not.toMatch(/"99"|pipelineId|jobId/);
    // the same login read, but through another JWT mount, or with a role/policy that is not the service's, or without an entity (no login made it)
    const login = FIX.jwt_login_read;
    const variants = [
      { ...login, auth: { ...login.auth, display_name: 'jwt-other-project_path:p' } },
      { ...login, auth: { ...login.auth, metadata: { ...login.auth.metadata, role: 'platform-admin' } } },
      { ...login, auth: { ...login.auth, token_policies: ['ps-ci-p-1', 'root'] } },
      { ...login, auth: { ...login.auth, entity_id: undefined } },
    ];
    for (const v of variants) expect(interpretAuditLine(line(v), scope)).toMatchObject({ accessor: { type: 'token' } });
  });

  it('item 12: a read of a missing path or of a deleted version (404 in OpenBao, no error in the entry) is not an allowed read: no value left', () => {
    for (const e of [FIX.missing_read, FIX.deleted_version_read]) {
      const f = interpretAuditLine(line(e), scope);
      expect(f).toMatchObject({ kind: 'kv-read', allowed: false, notFound: true, version: null });
    }
    expect(interpretAuditLine(line(FIX.jwt_login_read), scope)).toMatchObject({ allowed: true, notFound: false, version: 1 });
  });

  it('item 4: a request with no token or an unknown one is an unauthenticated denial, with the remote address; a path whose project or name is no valid id is dropped', () => {
    for (const e of [FIX.no_token_denied, FIX.bad_token_denied]) {
      expect(interpretAuditLine(line(e), scope)).toMatchObject({ kind: 'unauthenticated-denial', requestId: e.request.id, remoteAddress: '127.0.0.1', projectId: 'p', name: 'A' });
    }
    expect(interpretAuditLine(line(FIX.denied), scopeOf(FIX.denied))).toMatchObject({ kind: 'kv-read', allowed: false }); // a real token, refused: one event as before
    for (const path of ['secret/data/ps/NOT-A-PROJECT/A', 'secret/data/ps/p/lower_case', 'secret/data/ps/p/A%20B', `secret/data/ps/${'p'.repeat(65)}/A`, 'secret/data/ps/p/../A']) {
      expect(interpretAuditLine(line(at(FIX.no_token_denied, path)), scope)).toEqual({ kind: 'dropped', reason: 'invalid-path' });
      expect(interpretAuditLine(line(at(FIX.jwt_login_read, path)), scope)).toEqual({ kind: 'dropped', reason: 'invalid-path' });
    }
    // the service's own entries under the prefix (the readiness sentinel) are not counted as dropped
    expect(interpretAuditLine(line(at(FIX.no_token_denied, 'secret/data/ps/_pipeline-secrets-sentinel')), scope)).toBeNull();
  });

  it('item 4: folds per remote address and window on the entries\' times; the summary is an OCSF record valid against the 1.3.0 schema, of no project', () => {
    const folds = new UnauthenticatedFolds<number>(60);
    const d = (id: string, ms: number, remote: string | null, projectId = 'p') => ({ kind: 'unauthenticated-denial' as const, requestId: id, at: new Date(Date.UTC(2026, 11, 6) + ms).toISOString(), remoteAddress: remote, projectId, name: 'A' });
    expect(folds.add(d('r1', 0, '10.0.0.1'), 1)).toEqual([]);
    expect(folds.add(d('r2', 59_999, '10.0.0.1', 'q'), 2)).toEqual([]);
    expect(folds.add(d('r3', 1_000, null), 3)).toEqual([]);
    const closed = folds.add(d('r4', 60_000, '10.0.0.1'), 4); // the next window of 10.0.0.1
    expect(closed.map((f) => [f.remote, f.count, f.projects.size, f.firstPosition])).toEqual([['10.0.0.1', 2, 2, 1]]);
    expect(folds.openPositions().sort()).toEqual([3, 4]);
    expect(folds.due(Date.UTC(2026, 11, 6) + 61_999, 2_000).map((f) => f.remote)).toEqual([]);
    expect(folds.due(Date.UTC(2026, 11, 6) + 62_000, 2_000).map((f) => f.remote)).toEqual(['unknown']); // windows are fixed slots: [0, 60 s)
    // a restart that re-reads only the tail of a closed window makes the same id: never a second summary
    const tail = new UnauthenticatedFolds<number>(60);
    tail.add(d('r2', 59_999, '10.0.0.1', 'q'), 2);
    const [again] = tail.add(d('r4', 60_000, '10.0.0.1'), 4);
    expect(tail.summaryEvent(again).eventId).toBe(folds.summaryEvent(closed[0]).eventId);
    const ev = folds.summaryEvent(closed[0]);
    expect(ev.eventId).toBe(folds.summaryEvent({ ...closed[0] }).eventId);
    expect(ev.data).toMatchObject({ projectId: '*', principal: { type: 'user', id: 'openbao-unauthenticated:10.0.0.1' }, reason: 'openbao-denied', count: 2, projects: 2, rateLimited: 0, windowSeconds: 60 });
    const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(join(__dirname, '..', 'siem', 'schema', 'ocsf-1.3.0-api-activity.schema.json'), 'utf8')));
    const record = toOcsf(
      { eventId: ev.eventId, type: ev.type, schemaVersion: 1, data: ev.data as never, metadata: { correlationId: 'r1', causationId: 'r1', actor: { type: 'system', id: 'openbao-audit' }, occurredAt: ev.occurredAt, source: 'openbao-audit' }, streamName: 'access-*', revision: 0, position: { commit: 1n, prepare: 1n }, recordedAt: ev.occurredAt },
      { productName: 'p', productVersion: '1', vendorName: 'v', burst: false },
    ) as any;
    expect(validate(record) ? [] : validate.errors).toEqual([]);
    expect(record).toMatchObject({ class_uid: 6003, count: 2, status_id: 2, actor: { user: { uid: 'openbao-unauthenticated:10.0.0.1' } } });
  });

  it('item 4: at most MAX_OPEN_FOLDS addresses are folded apart in a window; the rest share one fold, so a window makes at most 1,001 summaries', () => {
    const folds = new UnauthenticatedFolds<number>(60);
    for (let i = 0; i < 5000; i++) folds.add({ kind: 'unauthenticated-denial', requestId: `r${i}`, at: new Date(Date.UTC(2026, 11, 6) + i).toISOString(), remoteAddress: `2001:db8::${i.toString(16)}`, projectId: 'p', name: 'A' }, i);
    const out = folds.due(Date.UTC(2026, 11, 7), 0);
    expect(out).toHaveLength(MAX_OPEN_FOLDS + 1);
    expect(out.find((f) => f.remote === '*')?.count).toBe(5000 - MAX_OPEN_FOLDS);
  });

  it('item 6: a write to a role whose name differs only by case (OpenBao lowercases JWT role names) is a write to the owned role', () => {
    expect(FIX.uppercase_role_write.request.path).toBe('auth/jwt-ci/role/PS-CI-P-1');
    expect(interpretAuditLine(line(FIX.uppercase_role_write), scope)).toMatchObject({ kind: 'owned-write', path: 'auth/jwt-ci/role/ps-ci-p-1', succeeded: true });
    for (const path of ['auth/jwt-ci/role/Ps-Ci-x', 'sys/policies/acl/PS-CI-x', 'sys/policy/pS-cI-x', 'sys/policies/acl/ ps-ci-x ']) {
      expect(interpretAuditLine(line(at(FIX.write, path)), scope)).toMatchObject({ kind: 'owned-write' });
    }
    // the mount's own name is case-sensitive in OpenBao (auth/JWT-CI is no route): not ours
    expect(interpretAuditLine(line(at(FIX.write, 'auth/JWT-CI/role/ps-ci-x')), scope)).toBeNull();
  });
});

describe('owned writes by PATCH (OpenBao 2.7.2 accepts PATCH on sys/policies/acl/<name>)', () => {
  it('a PATCH of a ps-ci- policy (operation "patch", 200: the policy text replaced) is an owned write', () => {
    expect(FIX.policy_patch.request.operation).toBe('patch');
    expect(interpretAuditLine(line(FIX.policy_patch), { kvMount: 'secret', kvPrefix: 'ps', jwtMount: 'jwt-ci' })).toMatchObject({ kind: 'owned-write', path: 'sys/policies/acl/ps-ci-q', operation: 'patch', succeeded: true });
  });
});

describe('group secrets on OpenBao (issue 20, item 5): their KV paths, the job that read them, the access stream a marker names', () => {
  const scope = { kvMount: 'secret', kvPrefix: 'ps', jwtMount: 'jwt-ci' };
  const at = (e: Record<string, any>, path: string) => ({ ...e, request: { ...e.request, path } });
  const v = '0123456789abcdef-fedcba9876543210';

  it('a path under _groups/ names the group (1-8 lower-case segments) and the secret (the first upper-case segment); a project path never does', () => {
    const of = (p: string) => kvPathOf(`secret/data/ps/${p}`, scope);
    expect(of(`_groups/acme/payments/REGISTRY_TOKEN/${v}`)).toEqual({ projectId: 'group:acme/payments', name: 'REGISTRY_TOKEN' });
    expect(of(`_groups/acme/REGISTRY_TOKEN/${v}`)).toEqual({ projectId: 'group:acme', name: 'REGISTRY_TOKEN' });
    expect(of('_groups/a/b/c/d/e/f/g/h/N')).toEqual({ projectId: 'group:a/b/c/d/e/f/g/h', name: 'N' });
    // a project named like the group: its own place, never the group's
    expect(of(`acme/REGISTRY_TOKEN/${v}`)).toEqual({ projectId: 'acme', name: 'REGISTRY_TOKEN' });
    // no secret can live there: dropped, never recorded against a place
    for (const p of ['_groups', '_groups/N', `_groups/REGISTRY_TOKEN/${v}`, '_groups/acme', '_groups/acme/payments', '_groups/Acme/N', '_groups/a/b/c/d/e/f/g/h/i/N', '_groups/acme/../N', '_groups//N', '_groups/-x/N', `_groups/acme%2Fpayments/N`]) {
      expect({ p, got: of(p) }).toEqual({ p, got: 'invalid' });
    }
    // the service's own entries under the prefix are still not the service's to record
    expect(of('_pipeline-secrets-sentinel')).toBeNull();
    expect(of('_other/acme/N')).toBeNull();
    expect(kvSecretOf(`secret/data/ps/_groups/acme/N/${v}`, scope)).toEqual({ projectId: 'group:acme', name: 'N' });
  });

  it("a job's direct read of a group path is the group's secret, read by the job of its project (from a login on the service's mount only)", () => {
    const path = `secret/data/ps/_groups/acme/payments/REGISTRY_TOKEN/${v}`;
    expect(interpretAuditLine(line(at(FIX.jwt_login_read, path)), scope)).toMatchObject({
      kind: 'kv-read',
      allowed: true,
      projectId: 'group:acme/payments',
      name: 'REGISTRY_TOKEN',
      kvPath: `ps/_groups/acme/payments/REGISTRY_TOKEN/${v}`,
      accessor: { type: 'ci-job', projectId: 'p', jobId: '5', pipelineId: '77' },
    });
    // a token made by hand with a job's metadata: unattributed, its project claim means nothing
    expect(interpretAuditLine(line(at(FIX.forged_metadata_read, path)), scope)).toMatchObject({ projectId: 'group:acme/payments', accessor: { type: 'token' } });
    expect(interpretAuditLine(line(at(FIX.jwt_login_read, 'secret/data/ps/_groups/Acme/N')), scope)).toEqual({ kind: 'dropped', reason: 'invalid-path' });
  });

  it('a v2 marker names the place whose access stream holds the SecretAccessed; the place is under the MAC', () => {
    const path = `secret/data/ps/_groups/acme/payments/REGISTRY_TOKEN/${v}`;
    const id = '0b8a9c2e-5d1f-4e4b-9a57-2f1c3d4e5f60';
    const m = brokerMarker(KEY, `${path}?version=1`, id, 'pay-a');
    expect(m.startsWith('v2.')).toBe(true);
    expect(readBrokerMarker(KEY, m, path)).toEqual({ id, place: 'pay-a' });
    expect(verifyBrokerMarker(KEY, m, path)).toBe(id);
    expect(readBrokerMarker(KEY, brokerMarker(KEY, path, id), path)).toEqual({ id, place: null });
    const read = (marker: string) => interpretAuditLine(line(withMarker(at(FIX.jwt_login_read, path), marker)), { ...scope, markerKey: KEY });
    expect(read(m)).toMatchObject({ brokered: true, markerId: id, markerPlace: 'pay-a' });
    expect(read(brokerMarker(KEY, path, id, 'group:acme/payments'))).toMatchObject({ brokered: true, markerPlace: 'group:acme/payments' });
    // another place swapped in under the same MAC, a v1 MAC under v2, a place that is no place key: a direct read
    const [, , , mac] = m.split('.');
    for (const forged of [
      `v2.${id}.${Buffer.from('pay-b').toString('base64url')}.${mac}`,
      `v2.${id}.${Buffer.from('pay-a').toString('base64url')}.${brokerMarker(KEY, path, id).split('.')[2]}`,
      brokerMarker(KEY, path, id, 'Not A Place'),
      brokerMarker(KEY, path, id, 'group:ACME'),
      `v1.${id}.${Buffer.from('pay-a').toString('base64url')}.${mac}`,
    ]) {
      expect(read(forged)).toMatchObject({ brokered: false, markerId: null, markerPlace: null });
    }
  });
});
