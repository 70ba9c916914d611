import { ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, AddressInfo } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { ensureConsoleBuilt, launchChromium, watchedPage } from './console-support';

// Issue 21: the console's production sign-in (OpenID Connect code flow with PKCE through
// openid-client) against a real provider, oidc-provider, started here on loopback.
jest.setTimeout(120_000);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

describe('console: OpenID Connect sign-in against a real provider', () => {
  let t: EmbeddedApp;
  let provider: ChildProcess;
  let base: string;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  let secretFile: string;

  beforeAll(async () => {
    ensureConsoleBuilt();
    const [opPort, appPort] = [await freePort(), await freePort()];
    base = `http://localhost:${appPort}`;
    provider = spawn(process.execPath, [join(__dirname, 'console-oidc-provider.mjs'), String(opPort), 'console', 'client-secret-for-tests', `${base}/console/auth/callback`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      provider.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      provider.on('exit', (code) => reject(new Error(`oidc-provider exited ${code}`)));
    });
    secretFile = join(tmpdir(), `console-oidc-secret-${appPort}`);
    writeFileSync(secretFile, 'client-secret-for-tests\n', { mode: 0o600 });
    t = await startEmbedded({
      env: { DEV_ISSUER: '0', CONSOLE_OIDC_ISSUER: `http://127.0.0.1:${opPort}`, CONSOLE_OIDC_CLIENT_ID: 'console', CONSOLE_OIDC_CLIENT_SECRET_FILE: secretFile, CONSOLE_PUBLIC_URL: base },
    });
    await t.app.listen(appPort, '127.0.0.1');
    chrome = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await chrome?.close();
    await t?.close();
    provider?.kill();
    if (secretFile) rmSync(secretFile, { force: true });
  });

  it('signs in through the provider (code + PKCE): the ID token\'s sub and groups become the session\'s user; no development form', async () => {
    const w = await watchedPage(chrome.browser, base);
    await w.page.goto('/console/');
    await w.page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    expect(await w.page.getByRole('heading', { name: 'Development sign-in' }).count()).toBe(0);
    await w.page.getByRole('link', { name: 'Sign in with your organisation' }).click();
    // The provider's own login and consent pages (its development interactions).
    await w.page.waitForURL(/127\.0\.0\.1/);
    expect(new URL(w.page.url()).pathname).toMatch(/interaction/);
    await w.page.locator('input[name="login"]').fill('alice');
    await w.page.locator('input[name="password"]').fill('any');
    await w.page.locator('button[type="submit"]').click();
    await w.page.locator('button[type="submit"]').filter({ hasText: /continue/i }).click();
    await w.page.waitForURL(`${base}/console/`);
    await w.page.getByText('Signed in as').waitFor();
    expect(await w.page.locator('.who strong').textContent()).toBe('alice');
    const s = await w.page.evaluate(`fetch('/console/api/session').then((r) => r.json())`);
    expect(s).toMatchObject({ signedIn: true, principal: { type: 'user', id: 'alice', groups: ['team-a', 'auditors'] }, via: 'oidc' });
    const [cookie] = (await w.context.cookies(base)).filter((c) => c.name === '__Host-ps-console');
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict' });
    const me = await request(t.app.getHttpServer()).get('/v1/me').set('Cookie', `__Host-ps-console=${cookie.value}`);
    expect(me.body.principal).toMatchObject({ type: 'user', id: 'alice', groups: ['team-a', 'auditors'] });
    await w.context.close();
  });

  it('a callback with no sign-in in progress, or a forged state, is refused; the development form is off', async () => {
    const http = request(t.app.getHttpServer());
    const none = await http.get('/console/auth/callback?code=abc&state=xyz');
    expect(none.status).toBe(400);
    expect(none.headers['content-type']).toMatch(/application\/problem\+json/);
    // A pending sign-in for another state (a login-CSRF attempt): the code exchange is refused.
    const started = await http.get('/console/auth/login');
    expect(started.status).toBe(303);
    expect(started.headers.location).toMatch(/code_challenge_method=S256/);
    const pending = (started.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
    const forged = await http.get('/console/auth/callback?code=abc&state=not-the-one').set('Cookie', pending);
    expect(forged.status).toBe(401);
    expect(([] as string[]).concat(forged.headers['set-cookie'] ?? []).join(';')).not.toMatch(/__Host-ps-console=[A-Za-z0-9_-]{43}/);
    expect((await http.get('/console/auth/callback').set('Cookie', pending)).status).toBe(400); // no code at all
    const dev = await http.post('/console/api/session/dev').set('Origin', base).send({ sub: 'mallory' });
    expect(dev.status).toBe(404);
  });
});
