// One record of each kind issues 20 and 22 added (groups, exposure reports), printed as NDJSON for
// scripts/ocsf-official/check.py, which checks them against the official OCSF 1.3.0 schema source.
import { toOcsf } from '@app/domain/siem';
const opts = { productName: 'pipeline-secrets-audit', productVersion: '0.1.0', vendorName: 'example.org', burst: false };
let n = 0;
const ev = (type: string, data: Record<string, unknown>, actor: { type: 'user' | 'ci-job' | 'system'; id: string } = { type: 'user', id: 'gina' }) => ({
  eventId: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, type, schemaVersion: 1, data,
  metadata: { correlationId: 'c', causationId: 'c', actor, occurredAt: '2026-12-07T01:00:00.000Z' }, streamName: 's', revision: 0, position: { commit: 1n, prepare: BigInt(n) }, recordedAt: '2026-12-07T01:00:00.100Z',
});
const ci = { type: 'ci-job', id: 'job-sub', pipelineId: '7', jobId: '70', ref: 'main', refProtected: true, environment: 'production' };
const events = [
  ev('ExposureReportGenerated', { projectId: '*', reportId: '11111111-2222-4333-8444-555555555555', requestedBy: { type: 'user', id: 'audrey' }, subject: { type: 'user', id: 'alice' }, from: '2026-11-30T00:00:00.000Z', to: '2026-12-07T00:00:00.000Z', coveredPlaces: 2, notCovered: 1, reportSha256: 'a'.repeat(64) }, { type: 'user', id: 'audrey' }),
  ev('ExposureReportGenerated', { projectId: '*', reportId: '11111111-2222-4333-8444-555555555556', requestedBy: { type: 'user', id: 'audrey' }, subject: { type: 'secret', groupId: 'acme/payments', name: 'REG', version: 2 }, from: '2026-11-30T00:00:00.000Z', to: '2026-12-07T00:00:00.000Z', coveredPlaces: 1, notCovered: 0, reportSha256: 'b'.repeat(64) }, { type: 'user', id: 'audrey' }),
  ev('ProjectGroupChanged', { projectId: 'shop', groupId: 'acme/payments', previousGroupId: 'acme', changedBy: 'root', changedAt: '2026-12-07T01:00:00.000Z' }, { type: 'user', id: 'root' }),
  ev('SecretCreated', { projectId: 'group:acme/payments', name: 'REG', description: null, scope: { environment: 'prod*', branch: null, protectedOnly: false }, version: 1, valueRef: 'r', createdBy: 'gina' }),
  ev('SecretAccessed', { projectId: 'group:acme/payments', name: 'REG', version: 1, principal: ci, via: { scope: 'ci-job-scope' }, purpose: null, jobProjectId: 'shop' }, { type: 'ci-job', id: 'job-sub' }),
  ev('SecretAccessDenied', { projectId: 'group:acme/payments', name: 'REG', action: 'read', principal: ci, reason: 'environment-mismatch', purpose: null, jobProjectId: 'shop' }, { type: 'ci-job', id: 'job-sub' }),
  ev('RoleGranted', { projectId: 'group:acme', grantId: 'g1', principal: { type: 'user', id: 'dana' }, role: 'developer', environment: null, branch: null, expiresAt: null, grantedBy: 'gina', grantedAt: '2026-12-07T01:00:00.000Z' }),
  ev('RoleGranted', { projectId: 'group:acme', grantId: 'g2', principal: { type: 'group', id: 'team' }, role: 'developer', environment: null, branch: null, expiresAt: null, grantedBy: 'gina', grantedAt: '2026-12-07T01:00:00.000Z' }),
  ev('SecretAccessDenied', { projectId: 'group:evil', name: null, action: 'bootstrap-owner', principal: { type: 'user', id: 'root' }, reason: 'bootstrap-self', purpose: null }, { type: 'user', id: 'root' }),
];
for (const e of events) console.log(JSON.stringify(toOcsf(e as never, opts)));
