import { PgBounds, PgClient } from './pg-client';
import { PgliteClient } from './pglite-client';
import { SqlClient } from './sql-client';

export type SqlTarget = { kind: 'pglite'; dataDir?: string } | { kind: 'postgres'; url: string; poolSize?: number; bounds?: Partial<PgBounds> };

export async function openSqlClient(target: SqlTarget): Promise<SqlClient> {
  return target.kind === 'pglite' ? PgliteClient.open(target.dataDir) : PgClient.connect(target.url, target.poolSize, target.bounds);
}
