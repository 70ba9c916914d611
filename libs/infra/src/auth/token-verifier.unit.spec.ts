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

  describe('issue 23: a verified token is not verified again for 60 s, and nothing else changes', () => {
    // A key source that counts its calls (jose calls it once per signature verification) and can be revoked.
    const counting = () => {
      const state = { calls: 0, revoked: false, now: Date.now() };
      const source = async () => {
        state.calls++;
        if (state.revoked) throw new (await import('jose')).errors.JWKSNoMatchingKey();
        return key.publicKey;
      };
      const v = new TokenVerifier([{ issuer: 'https://ci', kind: 'ci-job', key: source as never }], { audience: 'aud', algorithms: ['ES256'], clockSkewSeconds: 5 }, () => state.now);
      return { state, v };
    };
    const ci = { project_id: 'p', ref: 'main', ref_type: 'branch', ref_protected: 'true', pipeline_id: 7, job_id: '42' };

    it('the same token twice: one signature verification, the same principal', async () => {
      const { state, v } = counting();
      const t = await sign(ci, 'https://ci');
      const a = await v.verify(t);
      const b = await v.verify(t);
      expect(b).toEqual(a);
      expect(state.calls).toBe(1);
    });

    it('verifyWithExpiry gives the token\'s exp with its principal, verified or cached (the guard does not decode the token again)', async () => {
      const { state, v } = counting();
      const exp = Math.floor(state.now / 1000) + 120;
      const t = await new SignJWT(ci).setProtectedHeader({ alg: 'ES256' }).setIssuer('https://ci').setAudience('aud').setSubject('j').setExpirationTime(exp).sign(key.privateKey);
      const first = await v.verifyWithExpiry(t);
      const cached = await v.verifyWithExpiry(t);
      expect([first.exp, cached.exp, state.calls]).toEqual([exp, exp, 1]);
      expect(cached.principal).toEqual(first.principal);
      expect(await v.verify(t)).toEqual(first.principal);
    });

    it('a cached principal cannot be changed by a caller mutating what it got', async () => {
      const { v } = counting();
      const t = await sign(ci, 'https://ci');
      const a = (await v.verify(t)) as { projectId: string };
      a.projectId = 'victim';
      expect(((await v.verify(t)) as { projectId: string }).projectId).toBe('p');
    });

    it('a token that expires while cached is refused at once (exp checked on every use)', async () => {
      const { state, v } = counting();
      const t = await new SignJWT(ci).setProtectedHeader({ alg: 'ES256' }).setIssuer('https://ci').setAudience('aud').setSubject('j').setExpirationTime(Math.floor(state.now / 1000) + 20).sign(key.privateKey);
      await v.verify(t);
      state.now += 26_000; // past exp + the 5 s skew, inside the cache's 60 s
      await expect(v.verify(t)).rejects.toThrow('token expired');
    });

    it('a token with one changed signature byte, or another token, is never a hit', async () => {
      const { state, v } = counting();
      const t = await sign(ci, 'https://ci');
      await v.verify(t);
      const parts = t.split('.');
      const sig = parts[2];
      const forged = `${parts[0]}.${parts[1]}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
      await expect(v.verify(forged)).rejects.toThrow(/signature invalid/);
      const forgedClaims = `${parts[0]}.${Buffer.from(JSON.stringify({ ...ci, project_id: 'victim', iss: 'https://ci', aud: 'aud', sub: 'j', exp: 9999999999 })).toString('base64url')}.${sig}`;
      await expect(v.verify(forgedClaims)).rejects.toThrow(/signature invalid/);
      expect(state.calls).toBe(3);
    });

    it('after 60 s the token is verified again: a key removed by then refuses it; failures are never cached', async () => {
      const { state, v } = counting();
      const t = await sign(ci, 'https://ci');
      await v.verify(t);
      state.now += 30_000;
      await v.verify(t);
      expect(state.calls).toBe(1);
      state.revoked = true;
      state.now += 31_000;
      await expect(v.verify(t)).rejects.toThrow(/key unknown/);
      await expect(v.verify(t)).rejects.toThrow(/key unknown/);
      expect(state.calls).toBe(3);
    });
  });
});
