import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import vault from 'node-vault';
import { BaoError, isAnswer } from '@app/infra/openbao/bao-client';
import { OpenBaoValueStore, parseBaoRef } from '@app/infra/value-store/openbao-value-store';
import { PrivateOpenBao, privateOpenBaoAvailable, startPrivateOpenBao } from '../support/private-openbao';

// Round-3 adversarial review (issue 18, 14 / 8f26d5f): a job login answered 403 is taken for "OpenBao
// not set up yet" (503, not recorded as a refusal). The attack: a job that makes OpenBao refuse its
// own login with a 403 would turn a refusal into a 503 that no SecretAccessDenied records. On a
// private OpenBao 2.7.2 with the service's role shape, every way a job can present a bad JWT
// (expired, not yet valid, another audience, issuer, project claim, signing key, alg none, garbage,
// a role it may not use) is answered 400 on both paths (login, inline auth): a refusal, never 503.
const TOKEN = 'round3-login-root';
const d = privateOpenBaoAvailable() ? describe : describe.skip;
d('round-3 attack: a job cannot turn its refused login into a 503 (private OpenBao 2.7.2)', () => {
  let bao: PrivateOpenBao | undefined;
  afterAll(async () => {
    await bao?.stop();
  });

  it('every bad JWT a job can send is a refusal (400) on the login and on inline auth, never "unavailable"', async () => {
    bao = await startPrivateOpenBao(TOKEN);
    const root = () => vault({ endpoint: bao!.addr, token: TOKEN });
    await root().addPolicy({ name: 'cmd', rules: 'path "secret/data/ps-r3/*" { capabilities = ["create", "read"] }' });
    const token = (await root().tokenCreate({ policies: ['cmd'] })).auth.client_token as string;
    const store = new OpenBaoValueStore({ addr: bao.addr, token, kvMount: 'secret', kvPrefix: 'ps-r3', jwtMount: 'jwt-r3' });
    const { valueRef } = await store.put({ projectId: 'p1', name: 'TOKEN', scope: { environment: null, branch: null, protectedOnly: false } } as never, 'v1');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await root().enableAuth({ mount_point: 'jwt-r3', type: 'jwt' });
    await root().write('auth/jwt-r3/config', { bound_issuer: 'r3', jwt_validation_pubkeys: [publicKey.export({ type: 'spki', format: 'pem' })] });
    await root().addPolicy({ name: 'ps-ci-p1-x', rules: `path "secret/data/${parseBaoRef(valueRef)!.path}" { capabilities = ["read"] }` });
    await root().addPolicy({ name: 'ps-ci-p2-x', rules: 'path "secret/data/ps-r3/p2/*" { capabilities = ["read"] }' });
    const role = { role_type: 'jwt', user_claim: 'sub', bound_audiences: ['r3'], bound_claims_type: 'glob', token_no_default_policy: true, token_type: 'service' };
    await root().write('auth/jwt-r3/role/ps-ci-p1-x', { ...role, bound_claims: { project_id: 'p1' }, token_policies: 'ps-ci-p1-x' });
    await root().write('auth/jwt-r3/role/ps-ci-p2-x', { ...role, bound_claims: { project_id: 'p2' }, token_policies: 'ps-ci-p2-x' });

    const now = Math.floor(Date.now() / 1000);
    const sign = (o: { claims?: object; iss?: string; aud?: string; iat?: number; nbf?: number; exp?: number; key?: KeyObject } = {}) =>
      new SignJWT({ project_id: 'p1', ...(o.claims ?? {}) })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(o.iss ?? 'r3')
        .setAudience(o.aud ?? 'r3')
        .setSubject('job-1')
        .setIssuedAt(o.iat ?? now)
        .setNotBefore(o.nbf ?? now - 5)
        .setExpirationTime(o.exp ?? now + 600)
        .sign(o.key ?? privateKey);
    const good = await sign();
    const b64 = (x: object) => Buffer.from(JSON.stringify(x)).toString('base64url');
    const bad: Record<string, string> = {
      expired: await sign({ iat: now - 7200, nbf: now - 7200, exp: now - 3600 }),
      notYetValid: await sign({ nbf: now + 3600, exp: now + 7200 }),
      otherAudience: await sign({ aud: 'someone-else' }),
      otherIssuer: await sign({ iss: 'evil' }),
      otherProject: await sign({ claims: { project_id: 'p2' } }),
      otherKey: await sign({ key: other }),
      algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${good.split('.')[1]}.`,
      garbage: 'a.b.c',
      empty: '',
      huge: `${good}${'A'.repeat(200_000)}`,
    };
    const outcome = (p: Promise<unknown>) =>
      p.then(
        (v) => (v === 'v1' ? 'read' : String(v)),
        (e: unknown) => (e instanceof BaoError ? { status: e.status, unavailable: e.unavailable, refusal: isAnswer(e, 400, 403) } : String(e)),
      );
    const refusal = { status: 400, unavailable: false, refusal: true };
    const results: Record<string, unknown> = {};
    for (const [k, jwt] of Object.entries(bad)) {
      results[`${k}/inline`] = await outcome(store.getAsJob(valueRef, jwt, 'ps-ci-p1-x'));
      results[`${k}/login`] = await outcome(store.asJob(jwt, 'ps-ci-p1-x', (read) => read(valueRef)));
    }
    // a valid job of p1 asking for p2's role (bound claims refuse it)
    results['otherRole/inline'] = await outcome(store.getAsJob(valueRef, good, 'ps-ci-p2-x'));
    results['otherRole/login'] = await outcome(store.asJob(good, 'ps-ci-p2-x', (read) => read(valueRef)));
    const expected = Object.fromEntries(Object.keys(results).map((k) => [k, refusal]));
    expect(results).toEqual(expected);
    // control: the good JWT reads
    expect(await outcome(store.getAsJob(valueRef, good, 'ps-ci-p1-x'))).toBe('read');
  }, 60_000);
});
