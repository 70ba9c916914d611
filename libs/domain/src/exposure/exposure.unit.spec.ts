import { Role } from '../roles';
import { ExposureGrant, ExposureInputs, ExposureRead, ExposureScope, ExposureVersion, exposureReport, MembershipInterval } from './exposure';

// A scenario whose exposure is computed by hand (issue 22: a known ground truth).
// Window: March 2026, [03-01, 03-31). Project `shop` is in group `acme` from 03-10 to 03-20 only.
const d = (day: string) => `2026-${day}T00:00:00.000Z`;
const FROM = d('03-01');
const TO = d('03-31');

function grant(placeKey: string, grantId: string, role: Role, validFrom: string, validTo: string | null, over: Partial<ExposureGrant> = {}): ExposureGrant {
  return {
    placeKey, grantId, role, principal: { type: 'user', id: 'alice' }, environment: null, branch: null, grantedBy: 'root', grantedAt: validFrom,
    expiresAt: null, revokedAt: validTo, validFrom, validTo, ...over,
  };
}
const version = (placeKey: string, name: string, revision: number, v: number, from: string, to: string | null): ExposureVersion => ({ placeKey, name, revision, version: v, from, to });
const scope = (placeKey: string, name: string, environment: string | null, validFrom = d('01-01'), validTo: string | null = null): ExposureScope => ({ placeKey, name, environment, branch: null, protectedOnly: false, validFrom, validTo });
const read = (id: string, placeKey: string, name: string, v: number, at: string, over: Partial<ExposureRead> = {}): ExposureRead => ({
  eventId: id, placeKey, name, version: v, principal: { type: 'user', id: 'alice' }, channel: 'api', occurredAt: at, ...over,
});

const memberships: MembershipInterval[] = [{ projectId: 'shop', groupId: 'acme', validFrom: d('03-10'), validTo: d('03-20') }];
const grants: ExposureGrant[] = [
  grant('group:acme', 'g-acme-dev', 'developer', d('01-01'), null),
  grant('shop', 'g-shop-reporter', 'reporter', d('01-01'), null), // no read: never counts
  grant('shop', 'g-shop-prod', 'developer', d('03-05'), d('03-08'), { environment: 'prod*' }), // covers DB only
  grant('shop', 'g-ends-at-from', 'owner', d('02-01'), FROM), // edge: ends exactly at `from`
  grant('shop', 'g-starts-at-to', 'owner', TO, null), // edge: starts exactly at `to`
  grant('shop', 'g-bob', 'owner', d('01-01'), null, { principal: { type: 'user', id: 'bob' } }),
];
const versions: ExposureVersion[] = [
  version('shop', 'DB', 0, 1, d('02-01'), d('03-15')),
  version('shop', 'DB', 1, 2, d('03-15'), null),
  version('shop', 'API_KEY', 0, 1, d('02-01'), null),
  version('group:acme', 'TOKEN', 0, 1, d('01-01'), null),
];
const scopes: ExposureScope[] = [scope('shop', 'DB', 'production'), scope('shop', 'API_KEY', null), scope('group:acme', 'TOKEN', null)];
const reads: ExposureRead[] = [
  read('e1', 'shop', 'DB', 1, '2026-03-06T12:00:00.000Z'),
  read('e0', 'shop', 'DB', 1, '2026-02-15T12:00:00.000Z'), // before the window
  read('e2', 'shop', 'API_KEY', 1, TO), // exactly at `to`: outside the half-open window
  read('e3', 'group:acme', 'TOKEN', 1, '2026-03-12T00:00:00.000Z', { principal: { type: 'ci-job', id: 'job' }, jobProjectId: 'shop', pipelineId: '7', jobId: '70', ref: 'main' }),
];
const base: Omit<ExposureInputs, 'subject' | 'covered'> = { from: FROM, to: TO, grants, versions, scopes, memberships, reads };
const all = () => true;

describe('exposure report (hand-computed ground truth)', () => {
  it('what alice could read, through which grant and when; what she read; what to rotate', () => {
    const r = exposureReport({ ...base, subject: { type: 'user', id: 'alice' }, covered: all });
    const iv = (from: string, to: string) => ({ from: d(from), to: d(to) });
    const acme = { grantId: 'g-acme-dev', role: 'developer', principal: { type: 'user', id: 'alice' }, grantedBy: 'root' };
    const inherited = { ...acme, inheritedFrom: { type: 'group', id: 'acme' } };
    expect(r.could).toEqual([
      { place: { type: 'group', id: 'acme' }, name: 'TOKEN', version: 1, intervals: [iv('03-01', '03-31')], via: [{ via: acme, intervals: [iv('03-01', '03-31')] }] },
      { place: { type: 'project', id: 'shop' }, name: 'API_KEY', version: 1, intervals: [iv('03-10', '03-20')], via: [{ via: inherited, intervals: [iv('03-10', '03-20')] }] },
      {
        place: { type: 'project', id: 'shop' }, name: 'DB', version: 1,
        intervals: [iv('03-05', '03-08'), iv('03-10', '03-15')],
        via: [
          { via: inherited, intervals: [iv('03-10', '03-15')] },
          { via: { grantId: 'g-shop-prod', role: 'developer', principal: { type: 'user', id: 'alice' }, grantedBy: 'root' }, intervals: [iv('03-05', '03-08')] },
        ],
      },
      { place: { type: 'project', id: 'shop' }, name: 'DB', version: 2, intervals: [iv('03-15', '03-20')], via: [{ via: inherited, intervals: [iv('03-15', '03-20')] }] },
    ]);
    expect(r.did.map((x) => [x.eventId, x.name, x.version])).toEqual([['e1', 'DB', 1]]);
    expect(r.rotate).toEqual([
      { place: { type: 'group', id: 'acme' }, name: 'TOKEN', version: 1, read: false },
      { place: { type: 'project', id: 'shop' }, name: 'API_KEY', version: 1, read: false },
      { place: { type: 'project', id: 'shop' }, name: 'DB', version: 2, read: false },
    ]);
    expect(r.notCovered).toBe(0);
  });

  it('names nothing where the caller lacks read-audit: only a count', () => {
    const r = exposureReport({ ...base, subject: { type: 'user', id: 'alice' }, covered: (k) => k === 'shop' });
    // acme's own secrets are not named (the grant that reaches shop from acme is part of shop's policy, as readers?at says).
    expect(JSON.stringify(r)).not.toContain('"place":{"type":"group"');
    expect(JSON.stringify(r)).not.toContain('TOKEN');
    expect(r.notCovered).toBe(1);
    expect(r.rotate.map((x) => x.name)).toEqual(['API_KEY', 'DB']);
  });

  it('a CI job of shop: its project always, the group only while shop was in it; its reads of the group secret', () => {
    const r = exposureReport({ ...base, subject: { type: 'ci-job', projectId: 'shop' }, covered: all });
    const token = r.could.find((c) => c.name === 'TOKEN')!;
    expect(token.intervals).toEqual([{ from: d('03-10'), to: d('03-20') }]);
    expect(token.via).toEqual([{ via: { rule: 'ci-job-scope', projectId: 'shop' }, intervals: [{ from: d('03-10'), to: d('03-20') }] }]);
    expect(r.could.find((c) => c.name === 'API_KEY')!.intervals).toEqual([{ from: FROM, to: TO }]);
    expect(r.did).toEqual([{ place: { type: 'group', id: 'acme' }, name: 'TOKEN', version: 1, at: '2026-03-12T00:00:00.000Z', channel: 'api', principal: { type: 'ci-job', id: 'job' }, projectId: 'shop', pipelineId: '7', jobId: '70', ref: 'main', eventId: 'e3' }]);
    expect(r.rotate[0]).toEqual({ place: { type: 'group', id: 'acme' }, name: 'TOKEN', version: 1, read: true });
  });

  it('a secret: who could read it while current (grants and CI rules), who read it, and the pipelines whose evidence lists it', () => {
    const r = exposureReport({ ...base, subject: { type: 'secret', placeKey: 'group:acme', name: 'TOKEN' }, covered: all });
    expect(r.subject).toEqual({ type: 'secret', groupId: 'acme', name: 'TOKEN' });
    expect(r.could).toHaveLength(1);
    expect(r.could[0].via.map((v) => v.via)).toEqual([
      { grantId: 'g-acme-dev', role: 'developer', principal: { type: 'user', id: 'alice' }, grantedBy: 'root' },
      { rule: 'ci-job-scope', projectId: 'shop' },
    ]);
    expect(r.pipelines).toEqual([{ projectId: 'shop', pipelineId: '7' }]);
    // bob's grant is on the project, never on the group's secret.
    expect(JSON.stringify(r)).not.toContain('bob');
  });

  it('is deterministic: the same inputs in another order give the same bytes', () => {
    const a = exposureReport({ ...base, subject: { type: 'user', id: 'alice' }, covered: all });
    const b = exposureReport({ ...base, grants: [...grants].reverse(), versions: [...versions].reverse(), scopes: [...scopes].reverse(), reads: [...reads].reverse(), subject: { type: 'user', id: 'alice' }, covered: all });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it("counts the grants of the user's group claims when the report is told them, and break-glass eligibility (the review of issue 22)", () => {
    const viaClaim = grant('shop', 'g-devs', 'developer', d('03-02'), d('03-04'), { principal: { type: 'group', id: 'devs' } });
    const eligible = grant('shop', 'g-bg', 'break-glass', d('03-20'), d('03-22'));
    const input = { ...base, grants: [viaClaim, eligible], covered: all };
    const without = exposureReport({ ...input, subject: { type: 'user', id: 'alice' } });
    // Without the claims, only what alice holds herself: the break-glass role (she could have broken the glass).
    expect(without.could.find((c) => c.name === 'API_KEY')?.via.map((v) => (v.via as { grantId: string }).grantId)).toEqual(['g-bg']);
    const withClaims = exposureReport({ ...input, subject: { type: 'user', id: 'alice', groups: ['devs'] } });
    const api = withClaims.could.find((c) => c.name === 'API_KEY')!;
    expect(api.via.map((v) => [(v.via as { grantId: string }).grantId, v.intervals])).toEqual([
      ['g-bg', [{ from: d('03-20'), to: d('03-22') }]],
      ['g-devs', [{ from: d('03-02'), to: d('03-04') }]],
    ]);
    // A claim the user did not carry counts for nothing.
    expect(exposureReport({ ...input, grants: [viaClaim], subject: { type: 'user', id: 'alice', groups: ['ops'] } }).could).toEqual([]);
  });
});
