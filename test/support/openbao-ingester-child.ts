// A child process running only the OpenBao audit ingester (the auditor's loop, no HTTP, no
// drift repair), for tests that kill it with SIGKILL: DATABASE_URL, BAO_AUDIT_FILE,
// BAO_KV_MOUNT, BAO_KV_PREFIX, BAO_JWT_MOUNT, BAO_AUDIT_START, DENIAL_RATE_PER_MINUTE from the environment.
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { PgClient } from '@app/infra/sql/pg-client';
import { OpenBaoAuditIngester } from '../../apps/auditor/src/openbao-audit-ingester';

async function main(): Promise<void> {
  const env = process.env;
  const sql = await PgClient.connect(env.DATABASE_URL!);
  const store = await PostgresEventStore.create(sql);
  const ingester = new OpenBaoAuditIngester(
    store,
    sql,
    {
      file: env.BAO_AUDIT_FILE!,
      start: (env.BAO_AUDIT_START as 'beginning' | 'end') ?? 'end',
      pollMs: Number(env.POLL_MS ?? 50),
      scope: { kvMount: env.BAO_KV_MOUNT ?? 'secret', kvPrefix: env.BAO_KV_PREFIX ?? 'pipeline-secrets', jwtMount: env.BAO_JWT_MOUNT ?? 'jwt-ci' },
      ...(env.DENIAL_RATE_PER_MINUTE ? { denialRatePerMinute: Number(env.DENIAL_RATE_PER_MINUTE) } : {}),
    },
    new JsonLogger((env.LOG_LEVEL as 'warn') ?? 'warn'),
  );
  await ingester.start();
  process.stdout.write('ingester started\n');
}

main().catch((e) => {
  process.stderr.write(`ingester child failed: ${String((e as Error).stack ?? e)}\n`);
  process.exit(1);
});
