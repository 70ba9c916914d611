import { randomUUID } from 'node:crypto';
import { CURRENT_SCHEMA_VERSION, EventStore, EventToAppend, StreamName } from '@app/domain';

const meta = (at: string) => ({ correlationId: randomUUID(), causationId: randomUUID(), actor: { type: 'user' as const, id: 'seed' }, occurredAt: at });
const ev = (type: keyof typeof CURRENT_SCHEMA_VERSION, data: Record<string, unknown>, at: string): EventToAppend => ({
  eventId: randomUUID(),
  type,
  schemaVersion: CURRENT_SCHEMA_VERSION[type],
  data,
  metadata: meta(at),
});

/**
 * A realistic history of `total` events for one project, appended in batches: a few grants and
 * secrets, and access decisions (allowed and denied, users and CI jobs) for the bulk.
 */
export async function seedHistory(store: EventStore, projectId: string, total: number): Promise<{ accessEvents: number }> {
  const t0 = Date.parse('2026-06-01T00:00:00.000Z');
  let n = 0;
  const at = () => new Date(t0 + n * 1000).toISOString();
  const secrets = Array.from({ length: 20 }, (_, i) => `SECRET_${i}`);
  const grants: EventToAppend[] = [];
  for (let i = 0; i < 10; i++) {
    grants.push(
      ev('RoleGranted', { projectId, grantId: randomUUID(), principal: { type: 'user', id: `user-${i}` }, role: i === 0 ? 'owner' : 'developer', environment: null, branch: null, expiresAt: null, grantedBy: 'seed', grantedAt: at() }, at()),
    );
    n++;
  }
  await store.appendToStream(StreamName.project(projectId), 'any', grants);
  for (const name of secrets) {
    const scope = { environment: name.endsWith('1') ? 'production' : null, branch: null, protectedOnly: false };
    await store.appendToStream(StreamName.secret(projectId, name), 'no-stream', [
      ev('SecretCreated', { projectId, name, description: null, scope, version: 1, valueRef: `seed:${randomUUID()}`, createdBy: 'seed' }, at()),
    ]);
    n++;
  }
  let accessEvents = 0;
  while (n < total) {
    const name = secrets[n % secrets.length];
    const batch: EventToAppend[] = [];
    for (let i = 0; i < 100 && n < total; i++, n++, accessEvents++) {
      const ci = n % 3 === 0;
      const principal = ci
        ? { type: 'ci-job', id: `job-${n}`, pipelineId: String(n % 97), jobId: String(n), ref: 'main', refProtected: true }
        : { type: 'user', id: `user-${n % 10}` };
      batch.push(
        n % 7 === 0
          ? ev('SecretAccessDenied', { projectId, name, action: 'read', principal, reason: 'no-grant', purpose: null }, at())
          : ev('SecretAccessed', { projectId, name, version: 1, principal, via: ci ? { scope: 'ci-job-scope' } : { grantId: 'g', role: 'developer' }, purpose: null }, at()),
      );
    }
    await store.appendToStream(StreamName.access(projectId, name), 'any', batch);
  }
  return { accessEvents };
}
