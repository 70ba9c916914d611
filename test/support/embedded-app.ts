import { INestApplication } from '@nestjs/common';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../apps/bootstrap';
import { mintCiToken, mintUserToken } from '@app/infra/auth/dev-issuer';
import { loadAuditSigningKey } from '@app/infra/audit/signing-key';
import { loadConfig } from '@app/infra/config/config';
import { JsonLogger } from '@app/infra/logging/logger';
import { createInfrastructure, Infrastructure } from '@app/infra/nest/infrastructure';

/** The embedded profile in a temp DATA_DIR, every log line captured, tokens minted by its dev issuer. */
export interface EmbeddedApp {
  app: INestApplication;
  infra: Infrastructure;
  dataDir: string;
  logs: string[];
  userToken(sub: string, opts?: { groups?: string[]; admin?: boolean; ttlSeconds?: number }): Promise<string>;
  ciToken(opts: { project: string; ref: string; protected?: boolean; environment?: string; pipeline?: string; job?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startEmbedded(opts: { env?: Record<string, string>; wrap?: (infra: Infrastructure) => Infrastructure } = {}): Promise<EmbeddedApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ps-e2e-'));
  const logs: string[] = [];
  JsonLogger.setSink((line) => logs.push(line));
  const env: Record<string, string> = { DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'debug', ...opts.env };
  // Production refuses to generate its signing key: hand it one, as a mounted secret would.
  if (env.PROFILE === 'production' && !env.AUDIT_SIGNING_KEY_FILE) {
    env.AUDIT_SIGNING_KEY_FILE = join(dataDir, 'mounted', 'audit-signing.key');
    loadAuditSigningKey(env.AUDIT_SIGNING_KEY_FILE, true);
  }
  const config = loadConfig(env);
  let infra = await createInfrastructure(config, new JsonLogger('debug'));
  if (opts.wrap) infra = opts.wrap(infra);
  const { app } = await createApp(config, infra);
  return {
    app,
    infra,
    dataDir,
    logs,
    userToken: (sub, o = {}) => mintUserToken(infra.devIssuer!, config.auth.audience, { sub, groups: o.groups, admin: o.admin, ttlSeconds: o.ttlSeconds ?? 600 }),
    ciToken: (o) => mintCiToken(infra.devIssuer!, config.auth.audience, { ...o, ttlSeconds: 600 }),
    async close() {
      await app.close();
      await infra.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every file under dir, as raw bytes, for plaintext canary scans. */
export function* filesUnder(dir: string): Generator<{ path: string; bytes: Buffer }> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) yield* filesUnder(p);
    else if (st.isFile()) yield { path: p, bytes: readFileSync(p) };
  }
}
