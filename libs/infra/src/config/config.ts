import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, validateSync } from 'class-validator';
import { resolve } from 'node:path';
import { AppName } from './settings-catalog';

const APP_NAMES: AppName[] = ['command-api', 'projector', 'auditor'];

/** Raw environment, validated with class-validator before anything starts. */
class RawSettings {
  @IsIn(['embedded', 'production']) PROFILE = 'embedded';
  @Matches(/^(command-api|projector|auditor)(,(command-api|projector|auditor))*$/, { message: 'APPS must be a comma list of command-api, projector, auditor' })
  APPS = 'command-api,projector,auditor';
  @IsString() HOST = '127.0.0.1';
  @IsInt() @Min(0) @Max(65535) PORT = 8080;
  @IsString() DATA_DIR = './data';
  @IsIn(['debug', 'info', 'warn', 'error']) LOG_LEVEL = 'info';
  @IsOptional() @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' }) DATABASE_URL?: string;
  @IsInt() @Min(100) @Max(60000) PG_CONNECT_TIMEOUT_MS = 3000;
  @IsInt() @Min(100) @Max(600000) PG_STATEMENT_TIMEOUT_MS = 10000;
  @IsInt() @Min(100) @Max(600000) PG_QUERY_TIMEOUT_MS = 12000;
  @IsInt() @Min(1000) @Max(3600000) PG_IDLE_IN_TRANSACTION_TIMEOUT_MS = 15000;
  @IsOptional() @Matches(/^(esdb|kurrentdb|kdb|esdb\+discover|kurrentdb\+discover):\/\//, { message: 'EVENTSTORE_URL must be an esdb:// connection string' })
  EVENTSTORE_URL?: string;
  @IsOptional() @Matches(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, { message: 'KAFKA_BROKERS must be host:port[,host:port...]' }) KAFKA_BROKERS?: string;
  @IsString() KAFKA_CLIENT_ID = 'pipeline-secrets';
  @Matches(/^[A-Za-z0-9._-]{1,249}$/, { message: 'AUDIT_TOPIC must be a valid Kafka topic name' }) AUDIT_TOPIC = 'secrets.audit.v1';
  @Matches(/^[A-Za-z0-9._-]{1,249}$/, { message: 'AUDIT_CHECKPOINT_TOPIC must be a valid Kafka topic name' }) AUDIT_CHECKPOINT_TOPIC = 'secrets.audit.checkpoints.v1';
  @IsInt() @Min(1) @Max(1000) AUDIT_TOPIC_PARTITIONS = 6;
  @IsOptional() @IsString() AUDIT_SIGNING_KEY_FILE?: string;
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._\/-]{0,127}$/, { message: 'AUDIT_LOG_ORIGIN must be a log name like example.com/audit (no spaces)' }) AUDIT_LOG_ORIGIN = 'pipeline-secrets.local/audit';
  @IsInt() @Min(1) @Max(1_000_000) AUDIT_CHECKPOINT_EVERY_RECORDS = 1000;
  @IsInt() @Min(1) @Max(3600) AUDIT_CHECKPOINT_SECONDS = 5;
  @IsInt() @Min(1) @Max(16) AUDIT_TOPIC_REPLICATION = 1;
  @IsOptional() @Matches(/^https?:\/\//, { message: 'BAO_ADDR must be an http(s) URL' }) BAO_ADDR?: string;
  @IsOptional() @IsString() BAO_TOKEN?: string;
  @IsOptional() @IsString() BAO_TOKEN_FILE?: string;
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'BAO_KV_MOUNT must be a mount name' }) BAO_KV_MOUNT = 'secret';
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'BAO_KV_PREFIX must be one path segment' }) BAO_KV_PREFIX = 'pipeline-secrets';
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'BAO_JWT_MOUNT must be a mount name' }) BAO_JWT_MOUNT = 'jwt-ci';
  @IsInt() @Min(30) @Max(3600) BAO_CI_TOKEN_TTL_SECONDS = 300;
  @IsOptional() @Matches(/^\//, { message: 'BAO_AUDIT_FILE must be an absolute path' }) BAO_AUDIT_FILE?: string;
  @IsIn(['beginning', 'end'], { message: 'BAO_AUDIT_START must be beginning or end' }) BAO_AUDIT_START = 'end';
  @IsInt() @Min(60) @Max(86400) VALUE_SWEEP_GRACE_SECONDS = 900;
  @IsOptional() @IsString() MASTER_KEY_FILE?: string;
  @IsString() AUTH_AUDIENCE = 'pipeline-secrets';
  @IsOptional() @IsString() AUTH_USER_ISSUER?: string;
  @IsOptional() @Matches(/^https?:\/\//, { message: 'AUTH_USER_JWKS_URL must be an http(s) URL' }) AUTH_USER_JWKS_URL?: string;
  @IsOptional() @IsString() AUTH_USER_PUBLIC_KEY_FILE?: string;
  @IsOptional() @IsString() AUTH_CI_ISSUER?: string;
  @IsOptional() @Matches(/^https?:\/\//, { message: 'AUTH_CI_JWKS_URL must be an http(s) URL' }) AUTH_CI_JWKS_URL?: string;
  @IsOptional() @IsString() AUTH_CI_PUBLIC_KEY_FILE?: string;
  @Matches(/^(RS256|RS384|RS512|PS256|PS384|PS512|ES256|ES384|ES512|EdDSA)(,(RS256|RS384|RS512|PS256|PS384|PS512|ES256|ES384|ES512|EdDSA))*$/, {
    message: 'AUTH_ALGORITHMS must list asymmetric JWS algorithms (none/HS* are never allowed)',
  })
  AUTH_ALGORITHMS = 'RS256,ES256,EdDSA';
  @IsInt() @Min(0) @Max(300) AUTH_CLOCK_SKEW_SECONDS = 30;
  @IsInt() @Min(1) @Max(3600) GRANT_EXPIRY_SCAN_SECONDS = 30;
  @IsInt() @Min(60) @Max(31536000) ACCESS_REQUEST_TTL_SECONDS = 86400;
  @IsInt() @Min(1) @Max(10000) ACCESS_REQUEST_MAX_PENDING_PER_REQUESTER = 20;
  @IsInt() @Min(1) @Max(100000) ACCESS_REQUEST_MAX_PENDING_PER_PROJECT = 200;
  @IsInt() @Min(1) @Max(100000) DENIAL_RATE_PER_MINUTE = 60;
  @IsInt() @Min(1) @Max(10000) EXPOSURE_REPORTS_PER_MINUTE = 10;
  @IsInt() @Min(1) @Max(3600) DENIAL_SUMMARY_WINDOW_SECONDS = 60;
  @IsIn(['on', 'off'], { message: 'GRAPHQL_JIT must be on or off' }) GRAPHQL_JIT = 'on';
  @IsOptional() @IsIn(['0', '1']) DEV_ISSUER?: string;
  @IsInt() @Min(60) @Max(86400) CONSOLE_SESSION_IDLE_SECONDS = 1800;
  @IsInt() @Min(300) @Max(604800) CONSOLE_SESSION_MAX_SECONDS = 28800;
  @IsOptional() @Matches(/^https?:\/\//, { message: 'CONSOLE_OIDC_ISSUER must be an http(s) URL' }) CONSOLE_OIDC_ISSUER?: string;
  @IsOptional() @IsString() CONSOLE_OIDC_CLIENT_ID?: string;
  @IsOptional() @IsString() CONSOLE_OIDC_CLIENT_SECRET_FILE?: string;
  @IsOptional() @Matches(/^https?:\/\/[^/?#]+$/, { message: 'CONSOLE_PUBLIC_URL must be an origin such as https://secrets.example.com (no path)' }) CONSOLE_PUBLIC_URL?: string;
}

/** Names of every environment variable loadConfig reads (from the validation metadata). */
export function settingNames(): string[] {
  const metas = getMetadataStorage().getTargetValidationMetadatas(RawSettings, '', true, false);
  return [...new Set(metas.map((m) => m.propertyName))].sort();
}

export interface IssuerConfig {
  issuer: string;
  jwksUrl?: string;
  publicKeyFile?: string;
}

export interface AppConfig {
  profile: 'embedded' | 'production';
  apps: AppName[];
  host: string;
  port: number;
  dataDir: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  databaseUrl?: string;
  /** PostgreSQL time bounds (ms): connect, server-side statement, client-side query, idle in transaction. */
  pgBounds: { connectTimeoutMs: number; statementTimeoutMs: number; queryTimeoutMs: number; idleInTransactionTimeoutMs: number };
  eventStoreUrl?: string;
  kafka: { brokers: string[]; clientId: string; auditTopic: string; checkpointTopic: string; partitions: number; replicationFactor: number };
  auditSigningKeyFile: string;
  auditLog: { origin: string; checkpointEveryRecords: number; checkpointSeconds: number };
  bao?: { addr: string; token?: string; tokenFile?: string; kvMount: string; kvPrefix: string; jwtMount: string; ciTokenTtlSeconds: number; auditFile?: string; auditStart: 'beginning' | 'end' };
  /** Where rendered policies go (OpenBao, or these files in the embedded profile) and the KV layout they name. */
  policies: { dir: string; kvMount: string; kvPrefix: string; ciTokenTtlSeconds: number; sweepGraceSeconds: number };
  /** How often the command API looks for grants whose expiry passed, to record RoleExpired. */
  grantExpiryScanSeconds: number;
  /** How long an access request may stay pending before it expires unreviewed. */
  accessRequestTtlSeconds: number;
  /** Pending access requests one requester may hold across all projects, and one project may hold (429 beyond). */
  accessRequestMaxPendingPerRequester: number;
  accessRequestMaxPendingPerProject: number;
  /** Denials a principal may cause per minute before it gets 429; repeats folded per window (seconds). */
  denials: { ratePerMinute: number; summaryWindowSeconds: number };
  /** Exposure reports one user may ask for per minute (each scans a window of history). */
  exposureReportsPerMinute: number;
  /** Whether GraphQL queries a tool repeats run compiled by graphql-jit (apps/command-api/src/graphql/jit.ts). */
  graphqlJit: boolean;
  /** The web console (/console): session lifetimes, and its OpenID Connect sign-in when configured. */
  console: {
    idleSeconds: number;
    maxSeconds: number;
    publicUrl?: string;
    oidc?: { issuer: string; clientId: string; clientSecretFile: string };
  };
  masterKeyFile: string;
  auth: {
    audience: string;
    algorithms: string[];
    clockSkewSeconds: number;
    users?: IssuerConfig;
    ci?: IssuerConfig;
    devIssuer: boolean;
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const NUMERIC = new Set(['PORT', 'PG_CONNECT_TIMEOUT_MS', 'PG_STATEMENT_TIMEOUT_MS', 'PG_QUERY_TIMEOUT_MS', 'PG_IDLE_IN_TRANSACTION_TIMEOUT_MS', 'AUDIT_TOPIC_PARTITIONS', 'AUDIT_CHECKPOINT_EVERY_RECORDS', 'AUDIT_CHECKPOINT_SECONDS', 'AUDIT_TOPIC_REPLICATION', 'AUTH_CLOCK_SKEW_SECONDS', 'GRANT_EXPIRY_SCAN_SECONDS', 'ACCESS_REQUEST_TTL_SECONDS', 'ACCESS_REQUEST_MAX_PENDING_PER_REQUESTER', 'ACCESS_REQUEST_MAX_PENDING_PER_PROJECT', 'DENIAL_RATE_PER_MINUTE', 'EXPOSURE_REPORTS_PER_MINUTE', 'DENIAL_SUMMARY_WINDOW_SECONDS', 'BAO_CI_TOKEN_TTL_SECONDS', 'VALUE_SWEEP_GRACE_SECONDS', 'CONSOLE_SESSION_IDLE_SECONDS', 'CONSOLE_SESSION_MAX_SECONDS']);

/** Reads and validates the environment; throws ConfigError naming every bad setting. Values of settings are never echoed. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || v === '') continue;
    plain[k] = NUMERIC.has(k) ? (/^-?\d+$/.test(v) ? Number(v) : v) : v;
  }
  const raw = plainToInstance(RawSettings, plain, { excludeExtraneousValues: false });
  const errors = validateSync(raw, { whitelist: true, forbidNonWhitelisted: false });
  const problems = errors.flatMap((e) => Object.values(e.constraints ?? {}).map((m) => (m.startsWith(e.property) ? m : `${e.property}: ${m}`)));
  const profile = raw.PROFILE as AppConfig['profile'];
  const apps = [...new Set(raw.APPS.split(','))] as AppName[];
  const dataDir = resolve(raw.DATA_DIR);

  const issuer = (iss?: string, jwks?: string, file?: string, name = ''): IssuerConfig | undefined => {
    if (!iss) {
      if (jwks || file) problems.push(`AUTH_${name}_ISSUER must be set when AUTH_${name}_JWKS_URL or AUTH_${name}_PUBLIC_KEY_FILE is`);
      return undefined;
    }
    if (!jwks && !file) problems.push(`AUTH_${name}_ISSUER needs AUTH_${name}_JWKS_URL or AUTH_${name}_PUBLIC_KEY_FILE`);
    if (jwks && file) problems.push(`set only one of AUTH_${name}_JWKS_URL and AUTH_${name}_PUBLIC_KEY_FILE`);
    return { issuer: iss, jwksUrl: jwks, publicKeyFile: file };
  };
  const users = issuer(raw.AUTH_USER_ISSUER, raw.AUTH_USER_JWKS_URL, raw.AUTH_USER_PUBLIC_KEY_FILE, 'USER');
  const ci = issuer(raw.AUTH_CI_ISSUER, raw.AUTH_CI_JWKS_URL, raw.AUTH_CI_PUBLIC_KEY_FILE, 'CI');
  const devIssuer = raw.DEV_ISSUER !== undefined ? raw.DEV_ISSUER === '1' : profile === 'embedded';

  if (profile === 'production') {
    if (!raw.DATABASE_URL) problems.push('DATABASE_URL is required in the production profile');
    // The projector with OpenBao needs it too: the X-Pipeline-Secrets-Broker MAC key is derived from it (else its writes look like drift).
    if (!raw.AUDIT_SIGNING_KEY_FILE && (apps.includes('auditor') || apps.includes('command-api') || (apps.includes('projector') && raw.BAO_ADDR))) problems.push('AUDIT_SIGNING_KEY_FILE is required in the production profile (an Ed25519 PKCS#8 PEM, mode 0600)');
    if (raw.BAO_ADDR && !raw.BAO_TOKEN && !raw.BAO_TOKEN_FILE) problems.push('BAO_TOKEN_FILE (or BAO_TOKEN) is required when BAO_ADDR is set');
    if (apps.includes('command-api') && !users && !devIssuer) problems.push('AUTH_USER_ISSUER is required in the production profile (or DEV_ISSUER=1 for trials)');
  }
  const oidcSet = [raw.CONSOLE_OIDC_ISSUER, raw.CONSOLE_OIDC_CLIENT_ID, raw.CONSOLE_OIDC_CLIENT_SECRET_FILE, raw.CONSOLE_PUBLIC_URL].filter((v) => v !== undefined).length;
  if (raw.CONSOLE_OIDC_ISSUER && oidcSet < 4) problems.push('CONSOLE_OIDC_ISSUER needs CONSOLE_OIDC_CLIENT_ID, CONSOLE_OIDC_CLIENT_SECRET_FILE and CONSOLE_PUBLIC_URL');
  else if (!raw.CONSOLE_OIDC_ISSUER && (raw.CONSOLE_OIDC_CLIENT_ID || raw.CONSOLE_OIDC_CLIENT_SECRET_FILE)) problems.push('CONSOLE_OIDC_CLIENT_ID and CONSOLE_OIDC_CLIENT_SECRET_FILE need CONSOLE_OIDC_ISSUER');
  if (raw.CONSOLE_SESSION_IDLE_SECONDS > raw.CONSOLE_SESSION_MAX_SECONDS) problems.push('CONSOLE_SESSION_IDLE_SECONDS must not exceed CONSOLE_SESSION_MAX_SECONDS');
  if (raw.PG_QUERY_TIMEOUT_MS <= raw.PG_STATEMENT_TIMEOUT_MS) problems.push('PG_QUERY_TIMEOUT_MS must be greater than PG_STATEMENT_TIMEOUT_MS (the server cancels first, so the client sees its error)');
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`);

  return {
    profile,
    apps,
    host: raw.HOST,
    port: raw.PORT,
    dataDir,
    logLevel: raw.LOG_LEVEL as AppConfig['logLevel'],
    databaseUrl: raw.DATABASE_URL,
    pgBounds: { connectTimeoutMs: raw.PG_CONNECT_TIMEOUT_MS, statementTimeoutMs: raw.PG_STATEMENT_TIMEOUT_MS, queryTimeoutMs: raw.PG_QUERY_TIMEOUT_MS, idleInTransactionTimeoutMs: raw.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS },
    eventStoreUrl: raw.EVENTSTORE_URL,
    kafka: {
      brokers: raw.KAFKA_BROKERS ? raw.KAFKA_BROKERS.split(',') : [],
      clientId: raw.KAFKA_CLIENT_ID,
      auditTopic: raw.AUDIT_TOPIC,
      checkpointTopic: raw.AUDIT_CHECKPOINT_TOPIC,
      partitions: raw.AUDIT_TOPIC_PARTITIONS,
      replicationFactor: raw.AUDIT_TOPIC_REPLICATION,
    },
    auditLog: { origin: raw.AUDIT_LOG_ORIGIN, checkpointEveryRecords: raw.AUDIT_CHECKPOINT_EVERY_RECORDS, checkpointSeconds: raw.AUDIT_CHECKPOINT_SECONDS },
    auditSigningKeyFile: raw.AUDIT_SIGNING_KEY_FILE ?? resolve(dataDir, 'audit-signing.key'),
    bao: raw.BAO_ADDR
      ? { addr: raw.BAO_ADDR, token: raw.BAO_TOKEN, tokenFile: raw.BAO_TOKEN_FILE, kvMount: raw.BAO_KV_MOUNT, kvPrefix: raw.BAO_KV_PREFIX, jwtMount: raw.BAO_JWT_MOUNT, ciTokenTtlSeconds: raw.BAO_CI_TOKEN_TTL_SECONDS, auditFile: raw.BAO_AUDIT_FILE, auditStart: raw.BAO_AUDIT_START as 'beginning' | 'end' }
      : undefined,
    policies: { dir: resolve(dataDir, 'policies'), kvMount: raw.BAO_KV_MOUNT, kvPrefix: raw.BAO_KV_PREFIX, ciTokenTtlSeconds: raw.BAO_CI_TOKEN_TTL_SECONDS, sweepGraceSeconds: raw.VALUE_SWEEP_GRACE_SECONDS },
    masterKeyFile: raw.MASTER_KEY_FILE ?? resolve(dataDir, 'master.key'),
    grantExpiryScanSeconds: raw.GRANT_EXPIRY_SCAN_SECONDS,
    accessRequestTtlSeconds: raw.ACCESS_REQUEST_TTL_SECONDS,
    accessRequestMaxPendingPerRequester: raw.ACCESS_REQUEST_MAX_PENDING_PER_REQUESTER,
    accessRequestMaxPendingPerProject: raw.ACCESS_REQUEST_MAX_PENDING_PER_PROJECT,
    denials: { ratePerMinute: raw.DENIAL_RATE_PER_MINUTE, summaryWindowSeconds: raw.DENIAL_SUMMARY_WINDOW_SECONDS },
    exposureReportsPerMinute: raw.EXPOSURE_REPORTS_PER_MINUTE,
    graphqlJit: raw.GRAPHQL_JIT === 'on',
    console: {
      idleSeconds: raw.CONSOLE_SESSION_IDLE_SECONDS,
      maxSeconds: raw.CONSOLE_SESSION_MAX_SECONDS,
      publicUrl: raw.CONSOLE_PUBLIC_URL,
      oidc: raw.CONSOLE_OIDC_ISSUER ? { issuer: raw.CONSOLE_OIDC_ISSUER, clientId: raw.CONSOLE_OIDC_CLIENT_ID!, clientSecretFile: raw.CONSOLE_OIDC_CLIENT_SECRET_FILE! } : undefined,
    },
    auth: {
      audience: raw.AUTH_AUDIENCE,
      algorithms: raw.AUTH_ALGORITHMS.split(','),
      clockSkewSeconds: raw.AUTH_CLOCK_SKEW_SECONDS,
      users,
      ci,
      devIssuer,
    },
  };
}
