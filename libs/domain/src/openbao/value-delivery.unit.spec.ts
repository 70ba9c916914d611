import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toOcsf } from '../siem';

const schema = JSON.parse(readFileSync(join(__dirname, '..', 'siem', 'schema', 'ocsf-1.3.0-api-activity.schema.json'), 'utf8'));
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);
const opts = { productName: 'pipeline-secrets-audit', productVersion: '0.1.0', vendorName: 'example.org', burst: false };

describe('SecretValueNotDelivered as OCSF', () => {
  it('is a failed API Activity Read of the secret that names the SecretAccessed it corrects, valid against OCSF 1.3.0', () => {
    const rec = toOcsf(
      {
        eventId: '00000000-0000-4000-8000-000000000002',
        type: 'SecretValueNotDelivered',
        schemaVersion: 1,
        data: { accessEventId: '00000000-0000-4000-8000-000000000001', projectId: 'p', name: 'DB', version: 3, reason: 'secret-deleted' },
        metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'user', id: 'alice' }, occurredAt: '2026-12-02T14:00:00.000Z' },
        recordedAt: '2026-12-02T14:00:00.001Z',
        streamName: 'access-p/DB',
        revision: 1,
        globalPosition: '2',
      } as never,
      opts,
    ) as any;
    expect(validate(rec) ? [] : validate.errors).toEqual([]);
    expect(rec).toMatchObject({ class_uid: 6003, activity_id: 2, status_id: 2, status_detail: 'secret-deleted', api: { operation: 'AccessSecret' } });
    expect(rec.resources[0]).toMatchObject({ uid: 'p/DB', version: '3' });
    expect(rec.unmapped.not_delivered).toEqual({ access_event_uid: '00000000-0000-4000-8000-000000000001' });
  });
});
