import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordedEvent } from '../ports/event-store';
import { toOcsf } from '../siem';
import { auditEventId, interpretAuditLine, kvSecretOf } from '.';

// Response entries written by OpenBao 2.7.2's file audit device (scripts/stack) during the e2e run:
// a CI job's direct read, its refused read (403), a read the command API brokered (marker header)
// and a policy write with the root token.
const FIX = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'openbao-2.7.2-audit-entries.json'), 'utf8')) as Record<string, Record<string, any>>;
const line = (e: object) => JSON.stringify(e);
const scopeOf = (e: Record<string, any>) => {
  const [mount, , prefix] = String(e.request.path).split('/');
  return { kvMount: mount, kvPrefix: prefix, jwtMount: 'jwt-ci' };
};

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
    expect(interpretAuditLine(line(FIX.brokered), scopeOf(FIX.brokered))).toMatchObject({ kind: 'kv-read', allowed: true, brokered: true });
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
    for (const path of ['auth/jwt-ci/role/ps-ci-a-1', 'auth/jwt-ci/config']) {
      expect(interpretAuditLine(line({ ...FIX.write, request: { ...FIX.write.request, path } }), { kvMount: 'secret', kvPrefix: 'x', jwtMount: 'jwt-ci' })).toMatchObject({ kind: 'owned-write', path });
    }
    for (const path of ['sys/policies/acl/platform-admin', 'auth/jwt-other/role/ps-ci-a', 'auth/jwt-ci/role/someone']) {
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
