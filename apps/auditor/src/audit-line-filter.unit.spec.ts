import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { interpretAuditLine } from '@app/domain/openbao-audit';
import { auditLineFilter } from './openbao-audit-ingester';

// Issue 23, 3: the ingester skips JSON.parse for lines that cannot matter. The filter may keep a
// line that means nothing (it is parsed, as before), never drop one that means something: checked
// on every entry OpenBao 2.7.2 wrote in the fixtures (each as a response and as a request line).
const FIXTURES = join(__dirname, '..', '..', '..', 'libs', 'domain', 'src', 'openbao-audit', 'fixtures');
const entries: Record<string, any>[] = [];
const collect = (v: unknown): void => {
  if (Array.isArray(v)) return v.forEach(collect);
  if (!v || typeof v !== 'object') return;
  const o = v as Record<string, any>;
  if (typeof o.type === 'string' && o.request && typeof o.request.path === 'string') entries.push(o);
  else Object.values(o).forEach(collect);
};
for (const f of ['openbao-2.7.2-audit-entries.json', 'openbao-2.7.2-attack-entries.json']) collect(JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')));

describe('auditLineFilter: what the ingester does not parse', () => {
  it('drops no line interpretAuditLine gives a meaning, for every fixture entry and the scopes they were written under', () => {
    expect(entries.length).toBeGreaterThan(20);
    let kept = 0;
    let meaningful = 0;
    for (const e of entries) {
      const [kvMount, , kvPrefix] = String(e.request.path).split('/');
      for (const scope of [{ kvMount, kvPrefix: kvPrefix ?? 'pipeline-secrets', jwtMount: 'jwt-ci' }, { kvMount: 'secret', kvPrefix: 'pipeline-secrets', jwtMount: 'jwt-ci' }]) {
        const filter = auditLineFilter(scope);
        for (const type of ['response', 'request']) {
          const line = JSON.stringify({ ...e, type });
          const meaning = interpretAuditLine(line, scope);
          if (meaning) meaningful++;
          if (filter(line)) kept++;
          else expect({ path: e.request.path, type, meaning }).toEqual({ path: e.request.path, type, meaning: null });
        }
      }
    }
    expect(meaningful).toBeGreaterThan(10);
    expect(kept).toBeLessThan(entries.length * 4);
  });

  it('drops request lines and the login pair of an inline-auth read; keeps the read; parses everything when a name is not plain', () => {
    const scope = { kvMount: 'secret', kvPrefix: 'pipeline-secrets', jwtMount: 'jwt-ci' };
    const filter = auditLineFilter(scope);
    const read = { time: '2026-12-06T22:00:00Z', type: 'response', auth: {}, request: { id: 'r1', operation: 'read', path: 'secret/data/pipeline-secrets/p1/NAME/0123456789abcdef-0123456789abcdef' } };
    const login = { ...read, request: { ...read.request, operation: 'update', path: 'auth/jwt-ci/login' } };
    expect([filter(JSON.stringify(read)), filter(JSON.stringify({ ...read, type: 'request' })), filter(JSON.stringify(login))]).toEqual([true, false, false]);
    // anything else on the JWT mount or under sys/ is parsed (a role of any name is the projector's)
    const at = (path: string) => filter(JSON.stringify({ ...read, request: { ...read.request, operation: 'update', path } }));
    expect(['auth/jwt-ci/role/backdoor', 'auth/jwt-ci/config', 'sys/auth/jwt-ci', 'sys/policies/acl/x', 'auth/jwt-ci/login2', 'auth/other/role/x', 'secret/data/other/p/N'].map(at)).toEqual([true, true, true, true, true, false, false]);
    for (const odd of [{ ...scope, kvPrefix: 'pipe.secrets' }, { ...scope, jwtMount: 'jwt/ci' }]) expect(auditLineFilter(odd)(JSON.stringify(login))).toBe(true);
  });
});
