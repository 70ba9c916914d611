import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PRINCIPAL_ID_PATTERN, PROJECT_ID_PATTERN } from '@app/domain';
import { loadOrCreateDevIssuer, mintCiToken, mintUserToken } from '@app/infra/auth/dev-issuer';
import { canonicalJson } from '@app/domain/audit-log';

// The project's CLI. `token` mints development-issuer tokens and prints only the JWT on stdout.

const USAGE = `usage:
  cli token --sub <user> [--groups g1,g2] [--admin] [--ttl 1h]
  cli token --ci --project <id> --ref <ref> [--ref-type branch|tag] [--protected] [--environment <env>]
            [--pipeline <id> --job <id> --user <user>] [--ttl 15m]
  cli rebuild
            drops every read model and every ps-ci-* OpenBao policy/role (or DATA_DIR/policies file),
            replays the event store and reconciles once. Stop the projector first.
  cli verify inclusion --record <record.json> --checkpoint <note.txt> --public-key <key.pem>
            record.json = GET /v1/audit/records/{index}?treeSize=N, note = the checkpoint of size N
  cli verify consistency --old <note.txt> --new <note.txt> --proof <proof.json> --public-key <key.pem>
            proof.json = GET /v1/audit/consistency?from=<old size>&to=<new size>
  cli verify log --checkpoint <note.txt> --public-key <key.pem> [--file <audit.jsonl>]
            recomputes the Merkle root from every record (the NDJSON file, else the service's database)
  cli verify evidence --envelope <dsse.json> --public-key <key.pem> --project <id> --pipeline <id> [--subject <sha256>]
  cli verify report --envelope <dsse.json> --public-key <key.pem>   (a signed exposure report)
            [--allow-requested-by-others]
            --project/--pipeline: the run your SLSA provenance names; by default the statement must have been
            requested by a CI job of that pipeline (an auditor may request one too: accepted only with the flag);
            who requested it is always printed
            [--origin <log>] (all verify commands) the log the checkpoints must be of (AUDIT_LOG_ORIGIN)
            [--key-name <name>] names the signer when it differs from the origin.
            Exit status: 0 verified, 1 verification failed, 2 usage error.
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
  const { loadConfig } = await import('@app/infra/config/config');
  const { createInfrastructure } = await import('@app/infra/nest/infrastructure');
  const { JsonLogger } = await import('@app/infra/logging/logger');
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

async function logRowsFromDatabase(): Promise<{ index: number; record: string }[]> {
  const { loadConfig } = await import('@app/infra/config/config');
  const { openSqlClient } = await import('@app/infra/sql/open-sql-client');
  const config = loadConfig({ ...process.env, APPS: 'projector' });
  const sql = await openSqlClient(config.profile === 'embedded' ? { kind: 'pglite', dataDir: resolve(config.dataDir, 'pglite') } : { kind: 'postgres', url: config.databaseUrl! });
  try {
    const { rows } = await sql.query<{ idx: string | number; record: string }>('SELECT idx, record FROM audit_log ORDER BY idx');
    return rows.map((r) => ({ index: Number(r.idx), record: r.record }));
  } finally {
    await sql.close();
  }
}

/**
 * `audit.jsonl` lines are `{index, eventId, eventType, key, record}` with the record's canonical
 * bytes written verbatim last. A crash may repeat a line (same index and bytes) or leave a torn
 * one (skipped: if it held a record, the index gap fails verification anyway). A record whose
 * bytes are not canonical (e.g. a duplicated key that JSON.parse would silently collapse) fails.
 */
export function logRowsFromNdjson(text: string): { index: number; record: string }[] {
  const byIndex = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let l: { index: number; record: unknown };
    try {
      l = JSON.parse(line) as { index: number; record: unknown };
    } catch {
      continue;
    }
    const at = line.indexOf('"record":');
    const raw = at >= 0 && line.endsWith('}') ? line.slice(at + '"record":'.length, -1) : '';
    const record = canonicalJson(l.record);
    if (raw !== record) throw new VerifyFailed(`record ${l.index} is not in canonical form: the file was edited`);
    const seen = byIndex.get(l.index);
    if (seen !== undefined && seen !== record) throw new VerifyFailed(`two different records at index ${l.index}`);
    byIndex.set(l.index, record);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([index, record]) => ({ index, record }));
}

class VerifyFailed extends Error {}

async function verifyCommand(args: string[]): Promise<string> {
  const [what, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      record: { type: 'string' },
      checkpoint: { type: 'string' },
      'public-key': { type: 'string' },
      old: { type: 'string' },
      new: { type: 'string' },
      proof: { type: 'string' },
      file: { type: 'string' },
      envelope: { type: 'string' },
      subject: { type: 'string' },
      project: { type: 'string' },
      pipeline: { type: 'string' },
      'allow-requested-by-others': { type: 'boolean' },
      origin: { type: 'string' },
      'key-name': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const { readFileSync } = await import('node:fs');
  const v = await import('./verify');
  const need = (name: keyof typeof values): string => {
    const file = values[name];
    if (typeof file !== 'string') throw new UsageError(`--${name} is required for verify ${what}`);
    return readFileSync(file, 'utf8');
  };
  const key = () => v.publicKeyFrom(need('public-key'));
  const opts = { keyName: values['key-name'], origin: values.origin };
  try {
    switch (what) {
      case 'inclusion':
        return JSON.stringify(v.verifyRecordInclusion(JSON.parse(need('record')), need('checkpoint'), key(), opts));
      case 'consistency':
        return JSON.stringify(v.verifyCheckpointConsistency(need('old'), need('new'), JSON.parse(need('proof')), key(), opts));
      case 'log': {
        const rows = values.file ? logRowsFromNdjson(readFileSync(values.file, 'utf8')) : await logRowsFromDatabase();
        return JSON.stringify(v.verifyLog(rows, need('checkpoint'), key(), opts));
      }
      case 'evidence': {
        if (!values.project || !values.pipeline) throw new UsageError('verify evidence needs --project and --pipeline: the run your build provenance names');
        const { statement, ...verdict } = v.verifyEvidence(JSON.parse(need('envelope')), key(), { ...opts, subjectSha256: values.subject, projectId: values.project, pipelineId: values.pipeline, allowRequestedByOthers: values['allow-requested-by-others'] === true });
        process.stderr.write(`evidence requested by: ${JSON.stringify(statement.predicate && (statement.predicate as { requestedBy?: unknown }).requestedBy)}\n`);
        const predicate = statement.predicate as { requestedBy?: unknown };
        return JSON.stringify({ ...verdict, subject: statement.subject, predicateType: statement.predicateType, requestedBy: predicate?.requestedBy });
      }
      case 'report': {
        const { report, ...verdict } = v.verifyReport(JSON.parse(need('envelope')), key());
        return JSON.stringify({ ...verdict, subject: report.subject, from: report.from, to: report.to, rotate: report.rotate, didTotal: report.didTotal, notCovered: report.notCovered });
      }
      default:
        throw new UsageError(`verify what? inclusion, consistency, log, evidence or report (got ${what ?? 'nothing'})`);
    }
  } catch (e) {
    if (e instanceof v.VerificationError) throw new VerifyFailed(e.message);
    throw e;
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'token':
        process.stdout.write((await token(rest)) + '\n');
        return 0;
      case 'verify':
        process.stdout.write((await verifyCommand(rest)) + '\n');
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
    if (e instanceof VerifyFailed) {
      process.stdout.write(JSON.stringify({ ok: false, error: msg }) + '\n');
      return 1;
    }
    process.stderr.write(`cli: ${msg}\n${e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? USAGE + '\n' : ''}`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
