import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { createPublicKey } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Browser } from 'playwright-core';
import request from 'supertest';
import { verifyRecordInclusion } from '../../apps/cli/src/verify';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { seedHistory } from '../support/seed-events';
import { axeViolations, ensureConsoleBuilt, launchChromium, pageExposure, Watched, watchedPage } from './console-support';

// Issue 21 in a real browser (Debian's chromium through playwright-core) on the embedded profile:
// one journey per role (reviewer, owner, stranger) and the attacks a cookie session invites. Each
// page a journey visits is checked with axe-core (WCAG 2.1 A/AA) and fails on any console error,
// page error or CSP violation. Screenshots land in docs/console-*.png.
jest.setTimeout(180_000);

const DOCS = join(__dirname, '../../docs');
const CANARY = 'console-browser-canary-9f3c';

describe('console in a real browser', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let base: string;
  let chrome: { browser: Browser; close(): Promise<void> };
  let evil: Server;
  let evilBase: string;
  const P = `console-ui-${Date.now().toString(36)}`;
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  let olive: string, rita: string, bob: string;
  let seededAt: string;

  const expectClean = async (w: Watched, what: string) => {
    expect({ what, axe: await axeViolations(w.page) }).toEqual({ what, axe: [] });
    expect({ what, problems: w.problems }).toEqual({ what, problems: [] });
  };
  const signIn = async (w: Watched, user: string) => {
    await w.page.goto('/console/');
    await w.page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await expectClean(w, 'sign-in page');
    await w.page.getByRole('textbox', { name: 'User id' }).fill(user);
    await w.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await w.page.getByRole('heading', { name: 'Home' }).waitFor();
  };

  beforeAll(async () => {
    ensureConsoleBuilt();
    t = await startEmbedded({ env: { AUDIT_CHECKPOINT_SECONDS: '1' } });
    await t.app.listen(0, '127.0.0.1');
    base = `http://localhost:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    http = request(t.app.getHttpServer());
    chrome = await launchChromium();
    mkdirSync(DOCS, { recursive: true });

    seededAt = new Date().toISOString();
    const admin = await t.userToken('root', { admin: true });
    olive = await t.userToken('olive');
    rita = await t.userToken('rita');
    bob = await t.userToken('bob');
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'rita' }, role: 'auditor' })).status).toBe(201);
    // A group olive owns (issue 20): Home lists it with her actions there.
    expect((await http.post(`/v1/groups/${encodeURIComponent(`${P}-grp/team`)}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: 'DB_PASSWORD', value: CANARY, rotationIntervalDays: 90 })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: 'DEPLOY_KEY', value: `${CANARY}-2`, environment: 'production' })).status).toBe(201);
    // A metadata change for the Secrets screen's history (issue 21: metadata history).
    expect((await http.patch(`/v1/projects/${P}/secrets/DB_PASSWORD`).set(auth(olive)).send({ description: 'primary database' })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(olive)).send({ purpose: 'release' })).status).toBe(200);
    expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(bob)).send({})).status).toBe(403);
    // The history is projected and its records are in a signed checkpoint before the browser looks.
    const hist = await eventually(
      () => http.get(`/v1/projects/${P}/access-history`).query({ secret: 'DB_PASSWORD', decision: 'allowed' }).set(auth(rita)),
      (r) => r.status === 200 && r.body.items.length === 3,
      20_000,
    );
    expect(hist.body.items).toHaveLength(3);
    const first = hist.body.items[0].eventId as string;
    const idx = await eventually(() => http.get(`/v1/projects/${P}/access-history/${first}/audit-record`).set(auth(rita)), (r) => r.status === 200, 20_000);
    expect(idx.status).toBe(200);
    const rec = await eventually(() => http.get(`/v1/audit/records/${idx.body.index}`).set(auth(rita)), (r) => r.status === 200, 20_000);
    expect(rec.status).toBe(200);

    // A cross-site page: another origin (and site) on loopback, as an attacker's page would be.
    evil = createServer((req, res) => {
      const target = `${base}/v1/projects/${P}/grants`;
      const pages: Record<string, string> = {
        '/form': `<form id="f" method="POST" action="${target}" enctype="text/plain"><input name='{"principal":{"type":"user","id":"mallory"},"role":"owner","x":"' value='"}'></form><script>document.getElementById('f').submit()</script>`,
        '/urlencoded': `<form id="f" method="POST" action="${target}"><input name="principal" value="mallory"></form><script>document.getElementById('f').submit()</script>`,
        '/fetch': `<script>
          const body = JSON.stringify({ principal: { type: 'user', id: 'mallory' }, role: 'owner' });
          Promise.allSettled([
            fetch('${target}', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body }),
            fetch('${target}', { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body }),
            fetch('${base}/v1/projects/${P}/secrets/DEPLOY_KEY', { method: 'DELETE', credentials: 'include' }),
            fetch('${base}/v1/projects/${P}/secrets/DB_PASSWORD/value', { method: 'PUT', mode: 'no-cors', credentials: 'include', body: '{"value":"pwned"}' }),
          ]).then(() => { document.title = 'done'; });
        </script>`,
        '/frame': `<h1>win a prize</h1><iframe title="console" src="${base}/console/" width="800" height="600"></iframe>`,
      };
      res.writeHead(pages[req.url ?? ''] ? 200 : 404, { 'Content-Type': 'text/html' });
      res.end(pages[req.url ?? ''] ?? 'not found');
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    evilBase = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;
  }, 180_000);

  afterAll(async () => {
    await chrome?.close();
    evil?.close();
    await t?.close();
  });

  it('reviewer: filter → drawer → Merkle proof verified in the page → export of the same view', async () => {
    const w = await watchedPage(chrome.browser, base);
    await signIn(w, 'rita');
    await expectClean(w, 'home (reviewer)');
    await w.page.getByRole('link', { name: 'Access history' }).click();
    await w.page.getByRole('heading', { name: 'Access history' }).waitFor();
    await w.page.getByRole('textbox', { name: 'Secret' }).fill('DB_PASSWORD');
    await w.page.getByRole('combobox', { name: 'Decision' }).selectOption('allowed');
    await w.page.getByRole('button', { name: 'Apply filters' }).click();
    await w.page.waitForURL(/secret=DB_PASSWORD/);
    expect(new URL(w.page.url()).searchParams.get('decision')).toBe('allowed');
    const rows = w.page.getByRole('button', { name: /^Open record of DB_PASSWORD allowed for olive/ });
    await rows.first().waitFor();
    expect(await rows.count()).toBe(3);
    await expectClean(w, 'history');

    // The filters live in the URL: a fresh load of the link shows the same page (timed: first rendered history page).
    const link = w.page.url();
    const started = Date.now();
    await w.page.goto(link);
    await rows.first().waitFor();
    const firstPageMs = Date.now() - started;
    expect(await rows.count()).toBe(3);
    process.stdout.write(`console: time to first rendered history page ${firstPageMs} ms (fresh load of the filtered link, embedded profile)\n`);

    // Keyboard only: focus the first Open button and press Enter; the drawer takes focus, Escape closes it.
    await rows.first().focus();
    await w.page.keyboard.press('Enter');
    const drawer = w.page.getByRole('dialog', { name: 'Audit record' });
    await drawer.waitFor();
    await drawer.getByRole('status').filter({ hasText: /Inclusion proof verified in this page/ }).waitFor({ timeout: 20_000 });
    await expect(drawer.getByText(/Grant [0-9a-f-]+ \(role owner\)/)).toBeTruthy();
    await expectClean(w, 'history drawer');
    // The bundle it offers verifies with the CLI's own code, independently of the page.
    const fetchDownload = async (name: string) => {
      const [dl] = await Promise.all([w.page.waitForEvent('download'), drawer.getByRole('link', { name }).click()]);
      return readFileSync((await dl.path())!, 'utf8');
    };
    const [recordJson, noteTxt, keyPem] = [await fetchDownload('record.json'), await fetchDownload('note.txt'), await fetchDownload('key.pem')];
    expect(verifyRecordInclusion(JSON.parse(recordJson), noteTxt, createPublicKey(keyPem)).ok).toBe(true);
    await w.page.screenshot({ path: join(DOCS, 'console-history.png'), fullPage: false });
    await w.page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });

    const csv = await w.page.getByRole('link', { name: 'CSV' }).getAttribute('href');
    expect(csv).toContain('format=csv');
    expect(csv).toContain('secret=DB_PASSWORD');
    expect(csv).toContain('decision=allowed');
    const exported = await w.context.request.get(`${base}${csv}`);
    expect(exported.status()).toBe(200);
    expect(exported.headers()['content-type']).toMatch(/^text\/csv/);
    const lines = (await exported.text()).trim().split('\n');
    expect(lines).toHaveLength(1 + 3); // header + the same three rows
    expect(lines.slice(1).every((l) => l.includes('DB_PASSWORD') && l.includes('allowed'))).toBe(true);

    // Who could read it (now, and gained since before the project existed), Secrets, Integrity.
    await w.page.getByRole('link', { name: 'Who could read it' }).click();
    await w.page.getByRole('heading', { name: 'Who could read it' }).waitFor();
    await w.page.getByRole('option', { name: 'DB_PASSWORD' }).waitFor({ state: 'attached' });
    await w.page.getByRole('combobox', { name: 'Secret' }).selectOption('DB_PASSWORD');
    await w.page.getByRole('textbox', { name: /Compare with an earlier instant/ }).fill(seededAt);
    await w.page.getByRole('button', { name: 'Show readers' }).click();
    await w.page.getByRole('cell', { name: 'user:olive' }).waitFor();
    await w.page.getByText(/Gained: user:olive through grant [0-9a-f-]+ \(owner\)/).waitFor();
    // Why: the API's timeline of the secret's grants and scope changes, within the two instants and in full.
    const why = w.page.getByRole('table', { name: `Why: grants and scope changes of DB_PASSWORD after ${seededAt} up to now` });
    await why.getByRole('cell', { name: /^user olive as owner/ }).waitFor();
    const timeline = w.page.getByRole('table', { name: 'Grants and scope changes of DB_PASSWORD, newest first' });
    await timeline.getByRole('cell', { name: 'grant made' }).first().waitFor();
    await timeline.getByRole('cell', { name: 'created' }).waitFor();
    expect(await timeline.getByRole('cell', { name: /user rita/ }).count()).toBe(0); // an auditor cannot read values: not on it
    await expectClean(w, 'who could read it');
    await w.page.screenshot({ path: join(DOCS, 'console-readers.png'), fullPage: true });
    await w.page.getByRole('link', { name: 'Secrets' }).click();
    await w.page.getByRole('cell', { name: /^ok \(due / }).waitFor();
    // The scope tester asks the API: DEPLOY_KEY is scoped to production.
    const tester = w.page.getByRole('form', { name: 'Would a CI job read it?' });
    await tester.getByRole('combobox', { name: 'Secret' }).selectOption('DEPLOY_KEY');
    await tester.getByRole('textbox', { name: 'Ref', exact: true }).fill('main');
    await tester.getByRole('textbox', { name: 'Environment (optional)' }).fill('staging');
    await tester.getByRole('button', { name: 'Ask' }).click();
    await tester.getByRole('status').filter({ hasText: 'No: a job on main in staging would not read DEPLOY_KEY (environment-mismatch).' }).waitFor();
    await tester.getByRole('textbox', { name: 'Environment (optional)' }).fill('production');
    await tester.getByRole('button', { name: 'Ask' }).click();
    await tester.getByRole('status').filter({ hasText: 'Yes: a job on main in production would read DEPLOY_KEY.' }).waitFor();
    // Metadata history, by keyboard: the row's History link, then the API's entries with who and when.
    const historyLink = w.page.getByRole('link', { name: 'History of DB_PASSWORD' });
    await historyLink.focus();
    await w.page.keyboard.press('Enter');
    await w.page.waitForURL(/history=DB_PASSWORD/);
    const meta = w.page.getByRole('table', { name: 'Metadata history of DB_PASSWORD, newest first' });
    await meta.getByRole('cell', { name: 'description: none → primary database' }).waitFor();
    await meta.getByRole('cell', { name: /^version 1; description: none; environment: none; branch: none; protected refs only: no; rotation interval \(days\): 90$/ }).waitFor();
    expect(await meta.getByRole('cell', { name: 'user olive' }).count()).toBe(2);
    await expectClean(w, 'secrets');
    await w.page.screenshot({ path: join(DOCS, 'console-secrets.png'), fullPage: true });
    const secretHistoryLink = w.page.url();
    const readersLink = `${base}/console/readers?project=${P}&secret=DB_PASSWORD`;
    await w.page.getByRole('link', { name: 'Integrity' }).click();
    await w.page.getByRole('heading', { name: 'Integrity' }).waitFor();
    await w.page.getByLabel('Signed checkpoint').waitFor();
    await expectClean(w, 'integrity');

    // Live audit: a read that happens now shows up; paused, it waits and is counted.
    await w.page.getByRole('link', { name: 'Live audit' }).click();
    await w.page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(olive)).send({})).status).toBe(200);
    await w.page.getByRole('cell', { name: `${P}/DB_PASSWORD` }).first().waitFor({ timeout: 20_000 });
    await w.page.getByRole('button', { name: 'Pause live updates' }).click();
    const shown = await w.page.getByRole('cell', { name: `${P}/DB_PASSWORD` }).count();
    expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(olive)).send({})).status).toBe(200);
    await w.page.getByRole('status').filter({ hasText: /Paused: 1 new record waiting/ }).waitFor({ timeout: 20_000 });
    expect(await w.page.getByRole('cell', { name: `${P}/DB_PASSWORD` }).count()).toBe(shown);
    await expectClean(w, 'live audit');
    await w.page.getByRole('button', { name: 'Resume live updates' }).click();
    expect(await w.page.getByRole('cell', { name: `${P}/DB_PASSWORD` }).count()).toBe(shown + 1);

    // 390 px wide: still readable (no page-wide horizontal scroll), still clean.
    await w.page.setViewportSize({ width: 390, height: 844 });
    await w.page.goto(link);
    await rows.first().waitFor();
    expect(await w.page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await expectClean(w, 'history at 390 px');
    await w.page.screenshot({ path: join(DOCS, 'console-history-390.png'), fullPage: false });
    for (const [what, url, table] of [
      ['secret metadata history at 390 px', secretHistoryLink, 'Metadata history of DB_PASSWORD, newest first'],
      ['readers timeline at 390 px', readersLink, 'Grants and scope changes of DB_PASSWORD, newest first'],
    ]) {
      await w.page.goto(url);
      await w.page.getByRole('table', { name: table }).getByRole('cell', { name: 'created' }).waitFor();
      const width = (await w.page.evaluate('document.documentElement.scrollWidth')) as number;
      // On failure, name the elements that stick out.
      const wide = width <= 390 ? [] : ((await w.page.evaluate(`[...document.querySelectorAll('body *')].filter((e) => !e.parentElement?.closest('table') && e.getBoundingClientRect().right > 391).map((e) => e.tagName + '.' + e.className).slice(0, 8)`)) as string[]);
      expect({ what, width: width <= 390 ? 'fits' : width, wide }).toEqual({ what, width: 'fits', wide: [] });
      await expectClean(w, what);
    }

    const seen = await pageExposure(w.page);
    expect(seen).not.toContain(CANARY);
    expect(seen).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/); // no JWT
    expect(seen).not.toContain('__Host-ps-console');
    await w.context.close();
  });

  it('10,000 history rows: loaded by keyset pages, scrolled to the end, only the rows in view in the DOM', async () => {
    const S = `${P}-10k`;
    const { accessEvents } = await seedHistory(t.infra.eventStore, S, 10_030);
    expect(accessEvents).toBe(10_000);
    const projected = await eventually(
      () => t.infra.sql.query<{ n: string }>('SELECT count(*) AS n FROM rm_access_history WHERE project_id = $1', [S]).then((r) => Number(r.rows[0].n)),
      (n) => n === 10_000,
      90_000,
      250,
    );
    expect(projected).toBe(10_000);
    const w = await watchedPage(chrome.browser, base);
    await signIn(w, 'user-0'); // the seeded project's owner
    await w.page.goto(`/console/history?project=${S}`);
    await w.page.getByRole('button', { name: /^Load all matching rows/ }).click();
    const started = Date.now();
    const box = w.page.getByRole('region', { name: /loaded access decisions, scrollable/ });
    await w.page.getByText('10000 access decisions loaded, newest first').waitFor({ timeout: 60_000 });
    const loadMs = Date.now() - started;
    expect(await box.locator('tbody tr').count()).toBeLessThan(100); // the DOM holds the rows in view, not 10,000
    // Scroll to the very end and back: the last row renders, the DOM stays small.
    const t0 = Date.now();
    await box.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await w.page.getByRole('button', { name: /^Open record 10000: / }).waitFor();
    const scrollMs = Date.now() - t0;
    expect(await box.locator('tbody tr').count()).toBeLessThan(100); // the DOM holds the rows in view, not 10,000
    await expectClean(w, 'history with 10,000 rows');
    process.stdout.write(`console: 10,000 history rows loaded (10 pages of 1000) and rendered in ${loadMs} ms; scroll to the last row rendered in ${scrollMs} ms\n`);
    await w.context.close();
  });

  it('owner: a request arrives → impact → re-sign-in (sign-in older than 10 min) → approve → the grant is visible', async () => {
    const w = await watchedPage(chrome.browser, base);
    await signIn(w, 'olive');
    // The sign-in is now 11 minutes old (the session row aged on the server): approving needs a fresh one.
    await t.infra.sql.query(`UPDATE console_sessions SET signed_in_at = signed_in_at - interval '11 minutes' WHERE principal->>'id' = 'olive'`);

    const created = await http.post(`/v1/projects/${P}/access-requests`).set(auth(bob)).send({ role: 'developer', durationSeconds: 3600, reason: 'hotfix for incident 7' });
    expect(created.status).toBe(201);
    await w.page.goto('/console/');
    await w.page.getByRole('heading', { name: 'Home' }).waitFor();
    const pending = w.page.getByRole('link', { name: '1 pending' });
    await pending.waitFor();
    await expectClean(w, 'home (owner)');
    const groups = w.page.getByRole('table', { name: 'Your groups' });
    await groups.getByRole('rowheader', { name: `${P}-grp/team` }).waitFor();
    expect(await groups.getByRole('row').filter({ hasText: `${P}-grp/team` }).textContent()).toContain('manage-grants');
    await pending.click();
    const card = w.page.getByRole('article', { name: /bob asks for developer/ });
    await card.waitFor();
    await card.getByText(/bob could read DB_PASSWORD, DEPLOY_KEY\./).waitFor();
    await expectClean(w, 'approvals');
    await w.page.screenshot({ path: join(DOCS, 'console-approvals.png') });
    // The first try is refused (sign-in too old): that 403 is the contract, the console handles it.
    w.expectFailures.push(new RegExp(`/access-requests/${created.body.requestId}/approve$`));
    await card.getByRole('textbox', { name: 'Comment' }).fill('ok for the hotfix');
    await card.getByRole('button', { name: "Approve bob's request" }).click();
    const again = card.getByRole('alert').filter({ hasText: 'older than 10 minutes' });
    await again.waitFor();
    await expectClean(w, 'approvals: re-sign-in asked');
    await again.getByRole('button', { name: 'Sign in again' }).click();
    await w.page.getByRole('status').filter({ hasText: /Approved bob's request: grant/ }).waitFor();
    await card.waitFor({ state: 'detached' }); // no longer pending

    // A break-glass waits for review by someone else: reviewed here (the sign-in is fresh now).
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'carol' }, role: 'break-glass' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/break-glass`).set(auth(await t.userToken('carol'))).send({ reason: 'prod down', durationSeconds: 600 })).status).toBe(201);
    await w.page.reload();
    const bg = w.page.getByRole('listitem').filter({ hasText: 'carol broke the glass' });
    await bg.waitFor();
    await bg.getByRole('combobox', { name: "Outcome of carol's break-glass" }).selectOption('justified');
    await bg.getByRole('textbox', { name: 'Comment' }).fill('outage, checked');
    await bg.getByRole('button', { name: 'Record review' }).click();
    await w.page.getByRole('status').filter({ hasText: "Reviewed carol's break-glass: justified" }).waitFor();
    await bg.waitFor({ state: 'detached' });
    await expectClean(w, 'break-glass reviewed');

    await w.page.getByRole('link', { name: 'Grants' }).click();
    await w.page.getByRole('heading', { name: 'Grants' }).waitFor();
    await w.page.getByRole('button', { name: 'Revoke developer of bob' }).waitFor();
    await w.page.getByRole('cell', { name: 'access request' }).waitFor();
    await expectClean(w, 'grants');
    await w.page.screenshot({ path: join(DOCS, 'console-grants.png') });
    const grants = await http.get(`/v1/projects/${P}/grants`).set(auth(olive));
    expect(grants.body.items.filter((g: { principal: { id: string }; status: string }) => g.principal.id === 'bob' && g.status === 'active')).toHaveLength(1);
    await w.context.close();
  });

  it('approvals: more pending requests than one API page are all counted on Home and listed for the owner', async () => {
    const P2 = `${P}-many`;
    const root = await t.userToken('root', { admin: true });
    expect((await http.post(`/v1/projects/${P2}/grants`).set(auth(root)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    // 6 requesters x 18 = 108 pending (a page is at most 100; each requester may hold 20)
    for (let u = 0; u < 6; u++) {
      const tok = await t.userToken(`asker${u}`);
      for (let i = 0; i < 18; i++) expect((await http.post(`/v1/projects/${P2}/access-requests`).set(auth(tok)).send({ role: 'reporter', durationSeconds: 600, reason: `r${i}` })).status).toBe(201);
    }
    const w = await watchedPage(chrome.browser, base);
    await signIn(w, 'olive');
    const pending = w.page.getByRole('link', { name: '108 pending' });
    await pending.waitFor();
    await pending.click();
    await w.page.getByRole('article', { name: /asker5 asks for reporter/ }).first().waitFor();
    await expect(w.page.getByRole('article', { name: /asks for reporter/ }).count()).resolves.toBe(108);
    await w.context.close();
  });

  it('stranger: sees nothing of others — no project, no screen, the API refuses', async () => {
    const w = await watchedPage(chrome.browser, base);
    await signIn(w, 'eve');
    await w.page.getByText('You hold no grant on any project yet').waitFor();
    expect(await w.page.getByRole('navigation', { name: 'Screens' }).getByRole('link').allTextContents()).toEqual(['Home']);
    await expectClean(w, 'home (stranger)');
    await w.page.goto(`/console/history?project=${P}&secret=DB_PASSWORD`);
    await w.page.getByRole('heading', { name: 'Home' }).waitFor();
    w.expectFailures.push(new RegExp(`/v1/projects/${P}/`));
    const statuses = await w.page.evaluate(`Promise.all(['/v1/projects/${P}/access-history', '/v1/projects/${P}/secrets', '/v1/projects/${P}/grants', '/v1/projects/${P}/access-requests/00000000-0000-4000-8000-000000000000/impact'].map((u) => fetch(u).then((r) => r.status)))`);
    expect(statuses).toEqual([403, 403, 403, 403]);
    const seen = await pageExposure(w.page);
    expect(seen).not.toContain('DB_PASSWORD');
    expect(seen).not.toContain(P);
    expect(w.problems).toEqual([]);
    await w.context.close();
  });

  it('attacks: cross-site form/fetch writes with the cookie change nothing; the console cannot be framed; the cookie is dead after sign-out', async () => {
    const w = await watchedPage(chrome.browser, base);
    await signIn(w, 'olive');
    expect(await w.page.evaluate('document.cookie')).toBe(''); // HttpOnly: page script never sees the session
    const attacker = await w.context.newPage();
    for (const path of ['/form', '/urlencoded']) {
      await attacker.goto(`${evilBase}${path}`);
      await attacker.waitForURL(new RegExp(`^${base}/v1/`));
      expect(await attacker.content()).not.toContain('grantId');
    }
    await attacker.goto(`${evilBase}/fetch`);
    await attacker.waitForFunction('document.title === "done"');
    const grants = await http.get(`/v1/projects/${P}/grants`).set(auth(olive));
    expect(grants.body.items.map((g: { principal: { id: string } }) => g.principal.id)).not.toContain('mallory');
    expect((await http.get(`/v1/projects/${P}/secrets/DEPLOY_KEY`).set(auth(olive))).status).toBe(200);
    expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(olive)).send({})).body.value).toBe(CANARY);

    // Clickjacking: the console refuses to render inside another site's frame.
    await attacker.goto(`${evilBase}/frame`);
    await attacker.waitForLoadState('load');
    for (const f of attacker.frames().slice(1)) {
      const text = await f.evaluate('document.body ? document.body.innerText : ""').catch(() => '');
      expect(text).not.toMatch(/Pipeline secrets|Sign in|Home/);
    }
    await attacker.close();

    // Sign-out ends the session on the server: the cookie, replayed, is 401.
    const [cookie] = (await w.context.cookies(base)).filter((c) => c.name === '__Host-ps-console');
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    await w.page.getByRole('button', { name: 'Sign out' }).click();
    await w.page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    const replay = await http.get('/v1/me').set('Cookie', `__Host-ps-console=${cookie.value}`);
    expect(replay.status).toBe(401);
    expect(w.problems).toEqual([]);
    await w.context.close();
  });
});
