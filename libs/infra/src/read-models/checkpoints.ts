import { formatPosition, parsePosition, Position } from '@app/domain';
import { SqlExecutor } from '../sql/sql-client';

/** Subscription checkpoints (projection_checkpoints), written by their owner — in the same transaction as its effects where it can. */
export const checkpoints = {
  async load(sql: SqlExecutor, name: string): Promise<Position | undefined> {
    const { rows } = await sql.query<{ position: string }>('SELECT position FROM projection_checkpoints WHERE projection = $1', [name]);
    return rows[0] ? parsePosition(rows[0].position) : undefined;
  },
  /**
   * The save's statement, also usable as a data-modifying CTE of a projection's own statement, so
   * effects and checkpoint commit in ONE statement (atomic without BEGIN/COMMIT): `$n` and `$p`
   * the parameter numbers of the name and the formatted position, `condition` a SQL condition over
   * the statement's other CTEs (constants of the caller's, never input).
   */
  cte(n: number, p: number, condition = 'true'): string {
    return `INSERT INTO projection_checkpoints (projection, position, updated_at) SELECT $${n}::text, $${p}::text, now() WHERE ${condition}
       ON CONFLICT (projection) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`;
  },
  async save(sql: SqlExecutor, name: string, position: Position): Promise<void> {
    await sql.query(checkpoints.cte(1, 2), [name, formatPosition(position)]);
  },
};
