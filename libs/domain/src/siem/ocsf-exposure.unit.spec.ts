import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordedEvent } from '../ports/event-store';
import { auditKey, OcsfApiActivity, toOcsf } from '.';

// ExposureReportGenerated (issue 22) as an audit record: API Activity Read of the report's subject
// by the requester, valid against the OCSF 1.3.0 API Activity schema kept in schema/, naming the
// window and the report's digest and nothing of its content.

const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(join(__dirname, 'schema', 'ocsf-1.3.0-api-activity.schema.json'), 'utf8')));
const opts = { productName: 'pipeline-secrets-audit', productVersion: '0.1.0', vendorName: 'example.org', burst: false };

function event(subject: Record<string, unknown>): RecordedEvent {
  return {
    eventId: '00000000-0000-4000-8000-000000000001',
    type: 'ExposureReportGenerated',
    schemaVersion: 1,
    data: {
      projectId: '*',
      reportId: '11111111-2222-4333-8444-555555555555',
      requestedBy: { type: 'user', id: 'audrey' },
      subject,
      from: '2026-11-30T00:00:00.000Z',
      to: '2026-12-07T00:00:00.000Z',
      coveredPlaces: 2,
      notCovered: 1,
      reportSha256: 'a'.repeat(64),
    },
    metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'user', id: 'audrey' }, occurredAt: '2026-12-07T01:00:00.000Z' },
    streamName: 'exposurereport-11111111-2222-4333-8444-555555555555',
    revision: 0,
    position: { commit: 1n, prepare: 1n },
    recordedAt: '2026-12-07T01:00:00.100Z',
  };
}

describe('OCSF record of an exposure report', () => {
  it.each([
    [{ type: 'user', id: 'alice' }, { type: 'user', uid: 'alice' }],
    [{ type: 'group', id: 'team-pay' }, { type: 'group-claim', uid: 'team-pay' }],
    [{ type: 'ci-job', projectId: 'shop', ref: 'main' }, { type: 'project', uid: 'shop' }],
    [{ type: 'secret', groupId: 'acme/payments', name: 'REGISTRY_TOKEN' }, { type: 'secret', uid: 'group:acme/payments/REGISTRY_TOKEN' }],
    [{ type: 'secret', projectId: 'shop', name: 'DB', version: 2 }, { type: 'secret', uid: 'shop/DB', version: '2' }],
    [{ type: 'secret', groupId: '../etc', name: 'X' }, { type: 'unknown', uid: '?' }],
  ])('subject %j: Read by the requester, valid against API Activity 1.3.0', (subject, resource) => {
    const r = toOcsf(event(subject), opts)!;
    expect(validate(r) ? [] : validate.errors).toEqual([]);
    expect(r).toMatchObject({ class_uid: 6003, activity_id: 2, severity_id: 3, api: { operation: 'ExposureReport' }, actor: { user: { uid: 'audrey' } } });
    expect((r as OcsfApiActivity).resources[0]).toMatchObject(resource);
    expect(r.unmapped).toEqual({ exposure_report: { report_id: '11111111-2222-4333-8444-555555555555', from: '2026-11-30T00:00:00.000Z', to: '2026-12-07T00:00:00.000Z', report_sha256: 'a'.repeat(64), covered_places: 2, not_covered: 1 } });
  });

  it('belongs to no project: its Kafka key is */*', () => {
    expect(auditKey(event({ type: 'user', id: 'alice' }))).toBe('*/*');
  });
});
