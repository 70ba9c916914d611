import { generateKeyPair, SignJWT } from 'jose';
import { AuthenticationError, TokenVerifier } from './token-verifier';

describe('TokenVerifier', () => {
  let verifier: TokenVerifier;
  let key: Awaited<ReturnType<typeof generateKeyPair>>;
  const sign = (claims: Record<string, unknown>, iss = 'https://users', opts: { alg?: string; exp?: string } = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'ES256' }).setIssuer(iss).setAudience('aud').setSubject(String(claims.sub ?? 'alice')).setExpirationTime(opts.exp ?? '5m').sign(key.privateKey);

  beforeAll(async () => {
    key = await generateKeyPair('ES256');
    verifier = new TokenVerifier(
      [
        { issuer: 'https://users', kind: 'user', key: key.publicKey },
        { issuer: 'https://ci', kind: 'ci-job', key: key.publicKey },
      ],
      { audience: 'aud', algorithms: ['ES256'], clockSkewSeconds: 5 },
    );
  });

  it('maps user claims', async () => {
    expect(await verifier.verify(await sign({ groups: ['g1'], admin: true }))).toEqual({ kind: 'user', id: 'alice', groups: ['g1'], admin: true });
    expect(await verifier.verify(await sign({}))).toEqual({ kind: 'user', id: 'alice', groups: [], admin: false });
  });

  it('maps CI job claims; the issuer, not the claims, decides the kind', async () => {
    const ci = { project_id: 'p', ref: 'main', ref_type: 'branch', ref_protected: 'true', pipeline_id: 7, job_id: '42', environment: 'prod', user_id: 'alice' };
    expect(await verifier.verify(await sign(ci, 'https://ci'))).toEqual({
      kind: 'ci-job', id: 'alice', projectId: 'p', ref: 'main', refType: 'branch', refProtected: true, pipelineId: '7', jobId: '42', environment: 'prod', userId: 'alice',
    });
    expect((await verifier.verify(await sign(ci, 'https://users'))).kind).toBe('user');
  });

  it.each([
    ['groups not an array', { groups: 'admins' }, 'https://users', /groups/],
    ['admin not boolean', { admin: 'true' }, 'https://users', /admin/],
    ['bad project id', { project_id: '../etc', ref: 'main', ref_protected: 'false', pipeline_id: '1', job_id: '1' }, 'https://ci', /project_id/],
    ['missing ref', { project_id: 'p', ref_protected: 'false', pipeline_id: '1', job_id: '1' }, 'https://ci', /ref/],
    ['bad ref_protected', { project_id: 'p', ref: 'main', ref_protected: 'yes', pipeline_id: '1', job_id: '1' }, 'https://ci', /ref_protected/],
    ['ref_protected as a boolean (OpenBao refuses it)', { project_id: 'p', ref: 'main', ref_protected: true, pipeline_id: '1', job_id: '1' }, 'https://ci', /ref_protected/],
    ['ref_protected false as a boolean', { project_id: 'p', ref: 'main', ref_protected: false, pipeline_id: '1', job_id: '1' }, 'https://ci', /ref_protected/],
    ['ref_protected missing', { project_id: 'p', ref: 'main', pipeline_id: '1', job_id: '1' }, 'https://ci', /ref_protected/],
    ['iat an hour in the future', { iat: Math.floor(Date.now() / 1000) + 3600 }, 'https://users', /claim iat invalid/],
    ['iat beyond the skew (5 s) by 30 s', { iat: Math.floor(Date.now() / 1000) + 35 }, 'https://users', /claim iat invalid/],
  ])('rejects %s', async (_n, claims, iss, reason) => {
    await expect(verifier.verify(await sign(claims, iss))).rejects.toThrow(reason);
  });

  it('rejects untrusted issuers, expired tokens, disallowed algorithms and oversized tokens', async () => {
    await expect(verifier.verify(await sign({}, 'https://other'))).rejects.toThrow('untrusted issuer');
    await expect(verifier.verify(await sign({}, 'https://users', { exp: '-1m' }))).rejects.toThrow('token expired');
    const ed = await generateKeyPair('EdDSA');
    const edToken = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setIssuer('https://users').setAudience('aud').setSubject('a').setExpirationTime('5m').sign(ed.privateKey);
    await expect(verifier.verify(edToken)).rejects.toThrow(/algorithm not allowed/);
    await expect(verifier.verify('x'.repeat(9000))).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('accepts iat in the past and within the clock skew in the future', async () => {
    await expect(verifier.verify(await sign({ iat: Math.floor(Date.now() / 1000) - 60 }))).resolves.toMatchObject({ id: 'alice' });
    await expect(verifier.verify(await sign({ iat: Math.floor(Date.now() / 1000) + 2 }))).resolves.toMatchObject({ id: 'alice' });
  });
});
