import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';

// Browser tests of the console (issue 21): Debian's chromium (scripts/ensure-chromium) driven by
// playwright-core, axe-core on each page, every console error, page error and CSP violation kept.

const ROOT = join(__dirname, '../..');
const BUILT = join(ROOT, 'dist/console/index.html');

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    t = Math.max(t, st.isDirectory() ? newest(p) : st.mtimeMs);
  }
  return t;
}

/** Builds the console when its sources are newer than the build (npm run build does it for a release). */
export function ensureConsoleBuilt(): void {
  let built = 0;
  try {
    built = statSync(BUILT).mtimeMs;
  } catch {
    built = 0;
  }
  if (built > newest(join(ROOT, 'apps/console'))) return;
  execFileSync('npm', ['run', '--silent', 'build:console'], { cwd: ROOT, stdio: 'inherit' });
}

export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const executablePath = execFileSync('bash', [join(ROOT, 'scripts/ensure-chromium')], { encoding: 'utf8' }).trim();
  // playwright-core's launch() starts chromium with a fresh temporary --user-data-dir of its own
  // (it refuses the flag from us) and removes it on close: no state carries over between runs.
  const browser = await chromium.launch({
    executablePath,
    args: ['--host-resolver-rules=MAP localhost 127.0.0.1', '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

export interface Watched {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors, CSP violations, console responses without the CSP. */
  problems: string[];
  /** API answers the test provokes on purpose (a 403 the console handles): the browser's own "Failed to load resource" line for them is expected. */
  expectFailures: RegExp[];
}

/** A fresh context and page whose every error is recorded (tests assert the list is empty). */
export async function watchedPage(browser: Browser, base: string, viewport = { width: 1440, height: 900 }): Promise<Watched> {
  const context = await browser.newContext({ viewport, baseURL: base });
  const page = await context.newPage();
  const problems: string[] = [];
  const expectFailures: RegExp[] = [];
  page.on('console', (m) => {
    const url = m.location().url ?? '';
    if (/^Failed to load resource/.test(m.text()) && expectFailures.some((r) => r.test(url))) return;
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()} (${url})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.origin === base && (u.pathname === '/console' || u.pathname.startsWith('/console/'))) {
      const csp = r.headers()['content-security-policy'] ?? '';
      if (!csp.includes("script-src 'self'") || !csp.includes("frame-ancestors 'none'")) problems.push(`no strict CSP on ${u.pathname}`);
    }
  });
  return { context, page, problems, expectFailures };
}

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core, WCAG 2.1 A and AA: the violations (id: first targets), [] when none. */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(AXE);
  const result = (await page.evaluate(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })`)) as {
    violations: { id: string; help: string; nodes: { target: string[] }[] }[];
  };
  return result.violations.map((v) => `${v.id} (${v.help}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

/** What page script can see of storage and DOM: no token, no value, no session id may be in it. */
export async function pageExposure(page: Page): Promise<string> {
  return (await page.evaluate(`JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie, dom: document.documentElement.outerHTML })`)) as string;
}
