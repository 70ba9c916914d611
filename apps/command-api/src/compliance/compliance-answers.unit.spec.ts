import { AccessHistoryItem } from '@app/infra/read-models/compliance';
import { publicHistoryItem } from './compliance-answers';
import { HISTORY_CSV_HEADER, historyCsvFields } from './csv';

const item = (over: Partial<AccessHistoryItem>): AccessHistoryItem => ({
  eventId: 'e1',
  occurredAt: '2026-03-01T00:00:00.000Z',
  projectId: 'pay-a',
  secret: 'TOKEN',
  action: 'read',
  decision: 'allowed',
  reason: null,
  version: 1,
  principal: { type: 'ci-job', id: 'job-1', pipelineId: 'p1', jobId: 'j1', ref: 'main', refProtected: true, environment: 'production', triggeredBy: null },
  via: { scope: 'ci-job-scope' },
  channel: 'api',
  purpose: null,
  correlationId: null,
  ...over,
});

describe('access-history rows as the API shows them (groups, issue 20)', () => {
  it("a group secret's row names groupId, never the internal key; a project's row is unchanged", () => {
    const g = publicHistoryItem(item({ projectId: 'group:acme/payments', jobProjectId: 'pay-a' }));
    expect(g).toMatchObject({ groupId: 'acme/payments', jobProjectId: 'pay-a' });
    expect('projectId' in g).toBe(false);
    expect(JSON.stringify(g)).not.toContain('group:');
    expect(Object.keys(g).slice(0, 3)).toEqual(['eventId', 'occurredAt', 'groupId']);
    const p = item({});
    expect(publicHistoryItem(p)).toBe(p);
  });

  it('CSV: group_id instead of project_id, the job project and the inherited group in their own columns', () => {
    const row = (i: AccessHistoryItem) => Object.fromEntries(historyCsvFields(i).map((v, n) => [HISTORY_CSV_HEADER[n], v]));
    expect(historyCsvFields(item({})).length).toBe(HISTORY_CSV_HEADER.length);
    const g = row(item({ projectId: 'group:acme/payments', jobProjectId: 'pay-a' }));
    expect([g.project_id, g.group_id, g.job_project_id, g.via_inherited_from]).toEqual([null, 'acme/payments', 'pay-a', null]);
    const inherited = row(item({ principal: { ...item({}).principal, type: 'user', id: 'tom' }, via: { grantId: 'g1', role: 'developer', inheritedFrom: { type: 'group', id: 'acme' } } }));
    expect([inherited.project_id, inherited.group_id, inherited.via_grant_id, inherited.via_inherited_from]).toEqual(['pay-a', null, 'g1', 'acme']);
  });
});
