import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PRINCIPAL_ID_PATTERN, PROJECT_ID_PATTERN } from '../../../libs/domain/src';
import { loadOrCreateDevIssuer, mintCiToken, mintUserToken } from '../../../libs/infra/src/auth/dev-issuer';

// The project's CLI. `token` mints development-issuer tokens and prints only the JWT on stdout.

const USAGE = `usage:
  cli token --sub <user> [--groups g1,g2] [--admin] [--ttl 1h]
  cli token --ci --project <id> --ref <ref> [--ref-type branch|tag] [--protected] [--environment <env>]
            [--pipeline <id> --job <id> --user <user>] [--ttl 15m]
  cli rebuild
            drops every read model and every ps-ci-* OpenBao policy/role (or DATA_DIR/policies file),
            replays the event store and reconciles once. Stop the projector first.
Reads DATA_DIR (default ./data), AUTH_AUDIENCE and, for rebuild, the service's whole configuration.`;

class UsageError extends Error {}

export function parseTtl(text: string): number {
  const m = /^(\d{1,7})(s|m|h|d)?$/.exec(text);
  if (!m) throw new UsageError(`--ttl must look like 90, 90s, 15m, 1h or 7d`);
  const n = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  if (n < 1 || n > 30 * 86400) throw new UsageError('--ttl must be between 1 second and 30 days');
  return n;
}

async function token(args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      sub: { type: 'string' },
      groups: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string' },
      ci: { type: 'boolean', default: false },
      project: { type: 'string' },
      ref: { type: 'string' },
      'ref-type': { type: 'string', default: 'branch' },
      protected: { type: 'boolean', default: false },
      environment: { type: 'string' },
      pipeline: { type: 'string' },
      job: { type: 'string' },
      user: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const dataDir = resolve(process.env.DATA_DIR || './data');
  const audience = process.env.AUTH_AUDIENCE || 'pipeline-secrets';
  const keys = await loadOrCreateDevIssuer(dataDir);
  if (values.ci) {
    if (!values.project || !PROJECT_ID_PATTERN.test(values.project)) throw new UsageError(`--project is required and must match ${PROJECT_ID_PATTERN.source}`);
    if (!values.ref) throw new UsageError('--ref is required with --ci');
    const refType = values['ref-type'];
    if (refType !== 'branch' && refType !== 'tag') throw new UsageError('--ref-type must be branch or tag');
    return mintCiToken(keys, audience, {
      project: values.project,
      ref: values.ref,
      refType,
      protected: values.protected,
      environment: values.environment,
      pipeline: values.pipeline,
      job: values.job,
      user: values.user,
      ttlSeconds: parseTtl(values.ttl ?? '15m'),
    });
  }
  if (!values.sub || !PRINCIPAL_ID_PATTERN.test(values.sub)) throw new UsageError('--sub is required (a user id)');
  const groups = values.groups ? values.groups.split(',').filter(Boolean) : [];
  for (const g of groups) if (!PRINCIPAL_ID_PATTERN.test(g)) throw new UsageError(`bad group id: ${g}`);
  return mintUserToken(keys, audience, { sub: values.sub, groups, admin: values.admin, ttlSeconds: parseTtl(values.ttl ?? '1h') });
}

async function rebuildCommand() {
  // Loaded lazily: `token` must work without a database.
  const { loadConfig } = await import('../../../libs/infra/src/config/config');
  const { createInfrastructure } = await import('../../../libs/infra/src/nest/infrastructure');
  const { JsonLogger } = await import('../../../libs/infra/src/logging/logger');
  const { rebuild } = await import('../../projector/src/rebuild');
  const { renderOptions } = await import('../../projector/src/projections');
  const config = loadConfig(process.env);
  const logger = new JsonLogger(config.logLevel);
  JsonLogger.setSink((line) => process.stderr.write(line + '\n'));
  const infra = await createInfrastructure(config, logger);
  try {
    return await rebuild({ store: infra.eventStore, sql: infra.sql, target: infra.policyTarget, render: renderOptions(config), logger });
  } finally {
    await infra.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'token':
        process.stdout.write((await token(rest)) + '\n');
        return 0;
      case 'rebuild':
        process.stdout.write(JSON.stringify(await rebuildCommand()) + '\n');
        return 0;
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`cli: ${msg}\n${e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? USAGE + '\n' : ''}`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
