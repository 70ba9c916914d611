import { SqlClient } from '@app/infra/sql/sql-client';

/**
 * `sql` with every statement whose text contains `marker` counted (how many round trips a code
 * path makes is what the one-statement tests assert); everything else passes through unchanged.
 */
export function countingStatements(sql: SqlClient, marker: string): { sql: SqlClient; count: () => number; reset: () => void } {
  let n = 0;
  const proxy = new Proxy(sql, {
    get(target, key) {
      if (key === 'query')
        return (text: string, params?: unknown[]) => {
          if (text.includes(marker)) n++;
          return target.query(text, params);
        };
      const v = (target as unknown as Record<string | symbol, unknown>)[key];
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { sql: proxy, count: () => n, reset: () => (n = 0) };
}
