/* The HTTP layer of a CI job's single access alone (issue 23): the real app (embedded profile,
 * APPS=command-api: express, the middleware, Nest's guard, pipes and filter, the controller and
 * the command bus) with SecretAccess.read stubbed to a constant answer, so no PostgreSQL, OpenBao
 * or decision work is in the figure; load A's request (POST .../secrets/{name}/access, a CI job's
 * JWT, body {}) from autocannon in a child process, 16 connections; the server's CPU
 * (process.cpuUsage) per request, HB_ROUNDS (4) rounds of HB_SECONDS (5) s after a 2 s warm-up;
 * HB_RATE=<n> paces the load at n requests per second in all (bench:access's A runs at 200-350/s).
 *
 *   node -r @swc-node/register bench/access-http.ts
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@app/infra/config/config';
import { createInfrastructure } from '@app/infra/nest/infrastructure';
import { JsonLogger } from '@app/infra/logging/logger';
import { mintCiToken } from '@app/infra/auth/dev-issuer';
import { createApp } from '../apps/bootstrap';
import { SecretAccess } from '../apps/command-api/src/secrets/secret-access';

const SECONDS = Number(process.env.HB_SECONDS ?? 5);
const ROUNDS = Number(process.env.HB_ROUNDS ?? 4);
/** HB_RATE: requests per second in all (autocannon -R); unset, closed loop as fast as it answers. */
const RATE = Number(process.env.HB_RATE ?? 0);
(async () => {
  JsonLogger.setSink(() => {});
  const dataDir = mkdtempSync(join(tmpdir(), 'ps-hb-'));
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', APPS: 'command-api' });
  const infra = await createInfrastructure(config, new JsonLogger('warn'));
  const { app } = await createApp(config, infra);
  const sa = app.get(SecretAccess);
  (sa as unknown as { read: (req: { names: string[]; projectId: string }) => Promise<unknown> }).read = async (req) => ({ items: [{ name: req.names[0], version: 1, value: 'v-0f0e8d2a-8a51-4b8e-9c41-1f3f4c6d7e8f', source: { type: 'project', id: req.projectId } }], denied: [] });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  const jwt = await mintCiToken(infra.devIssuer!, config.auth.audience, { project: 'hb-project', ref: 'main', protected: true, environment: 'production', ttlSeconds: 3600 });
  const url = `http://127.0.0.1:${port}/v1/projects/hb-project/secrets/HB_SECRET/access`;
  const check = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, body: '{}' });
  console.log('check', check.status, [...check.headers].map(([k, v]) => `${k}: ${v.slice(0, 40)}`).join(' | '), await check.text());
  const run = (seconds: number) =>
    new Promise<number>((resolve) => {
      const c = spawn(process.execPath, ['node_modules/autocannon/autocannon.js', '-j', '-c', '16', '-d', String(seconds), ...(RATE ? ['-R', String(RATE)] : []), '-m', 'POST', '-H', `authorization=Bearer ${jwt}`, '-H', 'content-type=application/json', '-b', '{}', url], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('exit', () => { const r = JSON.parse(out); if (r.non2xx || r.errors) console.log('non2xx', r.non2xx, 'errors', r.errors); resolve(r.requests.total); });
    });
  await run(2);
  { const u0 = process.cpuUsage(); await new Promise((r) => setTimeout(r, 2000)); const u = process.cpuUsage(u0); console.log(`idle: ${((u.user + u.system) / 2000).toFixed(1)} ms CPU per second`); }
  const figs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const u0 = process.cpuUsage();
    const n = await run(SECONDS);
    const u = process.cpuUsage(u0);
    const us = (u.user + u.system) / n;
    figs.push(us);
    console.log(`round ${i + 1}: ${n} requests, ${(n / SECONDS).toFixed(0)}/s, server CPU ${us.toFixed(1)} us/request (user ${(u.user / n).toFixed(1)}, system ${(u.system / n).toFixed(1)})`);
  }
  figs.sort((a, b) => a - b);
  console.log(`median ${figs[Math.floor(figs.length / 2)].toFixed(1)} us/request, min ${figs[0].toFixed(1)}`);
  await app.close();
  await infra.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
})();
