import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventStore, SecretValueStore } from '@app/domain';
import { deriveBrokerMarkerKey } from '@app/domain/openbao-audit';
import { DEV_CI_ISSUER, DEV_USER_ISSUER, DevIssuerKeys, loadOrCreateDevIssuer } from '../auth/dev-issuer';
import { keyFromFile, keyFromJwks, TokenVerifier, TrustedIssuer } from '../auth/token-verifier';
import { AppConfig, IssuerConfig } from '../config/config';
import { ensurePrivateFile } from '../crypto/key-files';
import { createEventStore } from '../event-store/create-event-store';
import { describeError, JsonLogger } from '../logging/logger';
import { Metrics } from '../observability/metrics';
import { ComplianceQueries } from '../read-models/compliance';
import { migrateReadModels, SqlSecretCatalog } from '../read-models/secret-catalog';
import { openSqlClient } from '../sql/open-sql-client';
import { pgBoundsOf } from '../sql/pg-client';
import { SqlClient } from '../sql/sql-client';
import { EmbeddedValueStore } from '../value-store/embedded-value-store';
import { OpenBaoValueStore } from '../value-store/openbao-value-store';
import { serviceToken } from '../openbao/bao-client';
import { FilePolicyTarget, OpenBaoPolicyTarget, PolicyTarget } from '../openbao/policy-target';
import { AuditLogStore, migrateAuditLog } from '../audit/audit-log-store';
import { AuditSigningKey, loadAuditSigningKey } from '../audit/signing-key';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** Everything the apps share, built once per process from validated configuration. */
export interface Infrastructure {
  config: AppConfig;
  logger: JsonLogger;
  metrics: Metrics;
  sql: SqlClient;
  eventStore: EventStore;
  valueStore: SecretValueStore;
  /** Where the projector reconciles CI policies and roles: OpenBao, or DATA_DIR/policies. */
  policyTarget: PolicyTarget;
  secretCatalog: SqlSecretCatalog;
  compliance: ComplianceQueries;
  /** The tamper-evident audit log (written by the auditor, served by the command-api). */
  auditLog: AuditLogStore;
  /** Signs checkpoints and evidence; loaded only by processes running the auditor or the command-api. */
  auditSigningKey?: AuditSigningKey;
  /** The key of the X-Pipeline-Secrets-Broker MAC (derived from the audit signing key), when that key is loaded. */
  brokerMarkerKey?: Buffer;
  tokenVerifier: TokenVerifier;
  devIssuer?: DevIssuerKeys;
  readiness: ReadinessCheck[];
  close(): Promise<void>;
}

async function trusted(cfg: IssuerConfig, kind: TrustedIssuer['kind'], algorithms: string[]): Promise<TrustedIssuer> {
  if (cfg.jwksUrl) return { issuer: cfg.issuer, kind, key: keyFromJwks(cfg.jwksUrl) };
  // A PEM file names one key; its algorithm is the first allowed one that imports it.
  let lastError: unknown;
  for (const alg of algorithms) {
    try {
      return { issuer: cfg.issuer, kind, key: await keyFromFile(cfg.publicKeyFile!, alg) };
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`cannot import the public key of issuer ${cfg.issuer} for any of ${algorithms.join(',')}: ${String((lastError as Error)?.message)}`);
}

/** The CI issuer OpenBao's JWT auth must trust: the configured one, else the development issuer. */
function ciTrustForBao(config: AppConfig, dev?: DevIssuerKeys): { issuer: string; jwksUrl?: string; publicKeysPem?: string[] } {
  const ci = config.auth.ci;
  if (ci?.jwksUrl) return { issuer: ci.issuer, jwksUrl: ci.jwksUrl };
  if (ci?.publicKeyFile) return { issuer: ci.issuer, publicKeysPem: [readFileSync(ci.publicKeyFile, 'utf8')] };
  if (dev) return { issuer: DEV_CI_ISSUER, publicKeysPem: [dev.publicKeyPem] };
  throw new Error('BAO_ADDR is set but no CI issuer is configured (AUTH_CI_ISSUER with AUTH_CI_JWKS_URL or AUTH_CI_PUBLIC_KEY_FILE): OpenBao JWT auth would trust nobody');
}

let rejectionGuard = false;
/** A background loop's stray rejection is logged, never a crash: every loop retries on its own. */
function guardUnhandledRejections(logger: JsonLogger): void {
  if (rejectionGuard) return;
  rejectionGuard = true;
  process.on('unhandledRejection', (e) => logger.error('unhandled rejection (a background task failed; it retries on its own)', describeError(e)));
}

export async function createInfrastructure(config: AppConfig, logger = new JsonLogger(config.logLevel)): Promise<Infrastructure> {
  guardUnhandledRejections(logger);
  const closers: Array<() => Promise<void>> = [];
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const metrics = new Metrics();
    const sql = await openSqlClient(config.profile === 'embedded' ? { kind: 'pglite', dataDir: join(config.dataDir, 'pglite') } : { kind: 'postgres', url: config.databaseUrl!, bounds: pgBoundsOf(config.pgBounds) });
    closers.push(() => sql.close());
    const eventStore = await createEventStore(config.eventStoreUrl ? { kind: 'eventstoredb', url: config.eventStoreUrl } : { kind: 'sql', sql });
    closers.push(() => eventStore.close());
    await migrateReadModels(sql);
    await migrateAuditLog(sql);
    const auditSigningKey =
      config.apps.includes('auditor') || config.apps.includes('command-api') || (config.apps.includes('projector') && config.bao)
        ? loadAuditSigningKey(config.auditSigningKeyFile, config.profile === 'embedded')
        : undefined;

    const issuers: TrustedIssuer[] = [];
    let devIssuer: DevIssuerKeys | undefined;
    if (config.auth.devIssuer) devIssuer = await loadOrCreateDevIssuer(config.dataDir);

    let valueStore: SecretValueStore;
    let policyTarget: PolicyTarget;
    // The X-Pipeline-Secrets-Broker MAC key: HKDF of the audit signing key (which every process that talks to OpenBao holds), distinct label.
    const brokerMarkerKey = auditSigningKey ? deriveBrokerMarkerKey(auditSigningKey.privateKey.export({ type: 'pkcs8', format: 'der' })) : undefined;
    if (config.bao) {
      const token = serviceToken(config.bao);
      valueStore = new OpenBaoValueStore({
        addr: config.bao.addr,
        token,
        kvMount: config.bao.kvMount,
        kvPrefix: config.bao.kvPrefix,
        jwtMount: config.bao.jwtMount,
        markerKey: brokerMarkerKey,
        onStateLost: (what) => {
          metrics.openBaoStateLost.inc({ what: 'kv-sentinel' });
          logger.error('OpenBao lost the service data (restarted empty or restored from an old backup?): readiness fails, values of older secrets answer 503', { missing: what });
        },
      });
      policyTarget = new OpenBaoPolicyTarget({ addr: config.bao.addr, token, jwtMount: config.bao.jwtMount, markerKey: brokerMarkerKey, ...ciTrustForBao(config, devIssuer) });
    } else {
      if (config.profile === 'production') {
        logger.warn('BAO_ADDR is not set: secret values stay in the envelope-encrypted SQL store and policies are rendered to files; set BAO_ADDR for OpenBao', { masterKeyFile: config.masterKeyFile });
      }
      const masterKey = ensurePrivateFile(config.masterKeyFile, () => randomBytes(32));
      valueStore = await EmbeddedValueStore.open(sql, masterKey);
      policyTarget = new FilePolicyTarget(config.policies.dir);
    }

    if (devIssuer) {
      issuers.push({ issuer: DEV_USER_ISSUER, kind: 'user', key: devIssuer.publicKey }, { issuer: DEV_CI_ISSUER, kind: 'ci-job', key: devIssuer.publicKey });
      if (!config.auth.algorithms.includes('EdDSA')) config.auth.algorithms.push('EdDSA');
      logger.warn('development token issuer is ON: tokens minted by the CLI from DATA_DIR are trusted (not for production)', { dataDir: config.dataDir });
    }
    if (config.auth.users) issuers.push(await trusted(config.auth.users, 'user', config.auth.algorithms));
    if (config.auth.ci) issuers.push(await trusted(config.auth.ci, 'ci-job', config.auth.algorithms));
    const tokenVerifier = new TokenVerifier(issuers, {
      audience: config.auth.audience,
      algorithms: config.auth.algorithms,
      clockSkewSeconds: config.auth.clockSkewSeconds,
    });

    return {
      config,
      logger,
      metrics,
      sql,
      eventStore,
      valueStore,
      policyTarget,
      brokerMarkerKey,
      secretCatalog: new SqlSecretCatalog(sql),
      compliance: new ComplianceQueries(sql),
      auditLog: new AuditLogStore(sql),
      auditSigningKey,
      tokenVerifier,
      devIssuer,
      readiness: [
        { name: 'event-store', check: () => eventStore.ping() },
        { name: 'value-store', check: () => valueStore.ping() },
      ],
      async close() {
        for (const c of closers.reverse()) await c().catch(() => undefined);
      },
    };
  } catch (e) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    throw e;
  }
}
