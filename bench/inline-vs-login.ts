/* Inline auth vs one login per scope role, for a batch of n reads of one role (issue 23, 2):
 * which is faster on this OpenBao, per batch size. Runs against the stack's OpenBao (its audit
 * devices included: each request costs its audit entries there too).
 *
 *   eval "$(scripts/stack env)" && node -r @swc-node/register bench/inline-vs-login.ts
 *
 * For n in BENCH_SIZES (1,2,3,5,10,20): closed loop, BENCH_CONNECTIONS (8) workers, BENCH_SECONDS (4) each:
 *   inline: n KV reads in parallel, each with the JWT login as X-Vault-Inline-Auth-* headers
 *   login:  JWT login, n KV reads in parallel with its token, revoke-self
 * Makes a private JWT mount, one policy/role and 20 values; removes the mount and policy after.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import os from 'node:os';
import { SignJWT, importPKCS8 } from 'jose';
import { baoClient } from '@app/infra/openbao/bao-client';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const SIZES = (process.env.BENCH_SIZES ?? '1,2,3,5,10,20').split(',').map(Number);
const ADDR = process.env.BAO_ADDR!.replace(/\/+$/, '');
const TOKEN = process.env.BAO_TOKEN!;
const RUN = randomUUID().slice(0, 8);
const MOUNT = `jwt-ivl-${RUN}`;
const ROLE = `ivl-${RUN}`;
const PREFIX = `ps-ivl-${RUN}`;

async function call(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<any> {
  const r = await fetch(`${ADDR}/v1/${path}`, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function loop(job: () => Promise<void>): Promise<{ rps: number; p50: number; p99: number }> {
  const lat: number[] = [];
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      await job();
      lat.push(performance.now() - s);
    }
  }));
  lat.sort((a, b) => a - b);
  return { rps: lat.length / ((performance.now() - t0) / 1000), p50: Math.round(lat[Math.floor(lat.length / 2)]), p99: Math.round(lat[Math.floor(lat.length * 0.99)]) };
}

async function main() {
  const root = { 'X-Vault-Token': TOKEN };
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await call('POST', `sys/auth/${MOUNT}`, root, { type: 'jwt' });
  try {
    await call('POST', `auth/${MOUNT}/config`, root, { bound_issuer: 'ivl', jwt_validation_pubkeys: [publicKey.export({ type: 'spki', format: 'pem' })] });
    await call('POST', `sys/policies/acl/${ROLE}`, root, { policy: `path "secret/data/${PREFIX}/*" { capabilities = ["read"] }\npath "auth/token/revoke-self" { capabilities = ["update"] }` });
    await call('POST', `auth/${MOUNT}/role/${ROLE}`, root, { role_type: 'jwt', user_claim: 'sub', bound_audiences: ['ivl'], token_policies: ROLE, token_no_default_policy: true, token_type: 'service', token_ttl: 300 });
    const paths: string[] = [];
    for (let i = 0; i < Math.max(...SIZES); i++) {
      await call('POST', `secret/data/${PREFIX}/p/V${i}`, root, { data: { value: `v${i}` } });
      paths.push(`secret/data/${PREFIX}/p/V${i}?version=1`);
    }
    const key = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer('ivl').setAudience('ivl').setSubject('job-1').setIssuedAt().setExpirationTime('1h').sign(key);
    const service = baoClient(ADDR, 'unused');
    const inline = { mount: MOUNT, role: ROLE, jwt };
    console.log(`inline auth vs one login per role; ${CONNECTIONS} workers, ${SECONDS} s each; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log('reads |  inline batches/s (p50/p99 ms) |  login batches/s (p50/p99 ms) | faster');
    for (const n of SIZES) {
      const picks = paths.slice(0, n);
      const a = await loop(async () => void (await Promise.all(picks.map((p) => service.readFast(p, { inline })))));
      const b = await loop(async () => {
        const login = await call('POST', `auth/${MOUNT}/login`, {}, { role: ROLE, jwt });
        const c = baoClient(ADDR, login.auth.client_token);
        await Promise.all(picks.map((p) => c.readFast(p)));
        await call('POST', 'auth/token/revoke-self', { 'X-Vault-Token': login.auth.client_token }, {});
      });
      console.log(`${String(n).padStart(5)} | ${a.rps.toFixed(0).padStart(16)} (${a.p50}/${a.p99}) | ${b.rps.toFixed(0).padStart(15)} (${b.p50}/${b.p99}) | ${a.rps >= b.rps ? 'inline' : 'login'}`);
    }
  } finally {
    await call('DELETE', `sys/auth/${MOUNT}`, root).catch(() => undefined);
    await call('DELETE', `sys/policies/acl/${ROLE}`, root).catch(() => undefined);
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
