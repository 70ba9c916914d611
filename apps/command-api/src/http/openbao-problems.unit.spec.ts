import { BaoError, isAnswer, isBaoUnavailable } from '@app/infra/openbao/bao-client';
import { knownProblem } from './problem.filter';

// Issue 18, 14: OpenBao's answers that mean "not set up yet" are 503 + Retry-After (unavailable),
// never a 500 and never taken for a refusal or a missing value; real refusals and absences stay so.
describe('BaoError: not set up yet vs. a refusal', () => {
  const cases: [string, BaoError, { unavailable: boolean; answer: boolean; status: number | undefined }][] = [
    ['missing mount (a root-like token)', new BaoError(404, ['no handler for route "auth/jwt-ci/login". route entry not found.']), { unavailable: true, answer: false, status: 503 }],
    ['missing KV mount', new BaoError(404, ['no handler for route "secret/data/ps/p/N". route entry not found.']), { unavailable: true, answer: false, status: 503 }],
    ['JWT mount without config', new BaoError(400, ['could not load configuration']), { unavailable: true, answer: false, status: 503 }],
    ['sealed', new BaoError(503, ['Vault is sealed']), { unavailable: true, answer: false, status: 503 }],
    ['no answer', new BaoError(undefined, []), { unavailable: true, answer: false, status: 503 }],
    ['a login the caller knows hit no mount (403)', new BaoError(403, ['permission denied'], true), { unavailable: true, answer: false, status: 503 }],
    ['a missing KV version', new BaoError(404, []), { unavailable: false, answer: true, status: undefined }],
    ['a role that is not there', new BaoError(400, ['role "ps-ci-x" could not be found']), { unavailable: false, answer: true, status: undefined }],
    ['a read the policy denies', new BaoError(403, ['1 error occurred:\n\t* permission denied\n\n']), { unavailable: false, answer: true, status: undefined }],
  ];
  it.each(cases)('%s', (_what, e, want) => {
    const p = knownProblem(e);
    expect({ unavailable: isBaoUnavailable(e), answer: isAnswer(e, 400, 403, 404), status: p?.problem.status }).toEqual(want);
    if (want.status === 503) expect(p!.headers['Retry-After']).toBeDefined();
  });
});
