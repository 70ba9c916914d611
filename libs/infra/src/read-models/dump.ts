import { canonicalJsonLines } from './canonical-lines';
import { SqlExecutor } from '../sql/sql-client';
import { PolicyTarget } from '../openbao/policy-target';
import { PROJECTED_TABLES } from './schema';

// Byte-exact snapshots of everything the projector owns, to prove a rebuild ends where an
// uninterrupted run does.

/** Every projected table, rows in a total order, as text. */
export async function dumpReadModels(sql: SqlExecutor, projectIds?: string[]): Promise<string> {
  const out: string[] = [];
  for (const table of PROJECTED_TABLES) {
    const where = projectIds ? 'WHERE project_id = ANY($1::text[])' : '';
    // Ordering by every column (as text) is a total order whatever the table's key.
    const { rows } = await sql.query(`SELECT * FROM ${table} t ${where} ORDER BY (t.*)::text`, projectIds ? [projectIds] : []);
    out.push(`## ${table} (${rows.length})`, ...canonicalJsonLines(rows));
  }
  return out.join('\n') + '\n';
}

/** The policies and roles the reconciler owns in a target, as text. */
export async function dumpPolicies(target: PolicyTarget): Promise<string> {
  const out: string[] = [];
  for (const name of await target.listPolicies()) out.push(`## policy ${name}`, (await target.readPolicy(name)) ?? '<missing>');
  for (const name of await target.listRoles()) {
    const role = (await target.readRole(name)) ?? {};
    out.push(`## role ${name}`, ...canonicalJsonLines([role]));
  }
  return out.join('\n') + '\n';
}
