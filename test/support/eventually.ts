export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` until `ok` accepts its result or `ms` passed, and returns the last result either way
 * (the caller's assertion then shows what it was). A rejection counts as a result: pass it to `ok`.
 */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000, everyMs = 50): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn().catch((e) => e as T);
    if (ok(v) || Date.now() > until) return v;
    await sleep(everyMs);
  }
}

/**
 * Polls `cond` until it holds; throws once `ms` passed without it (a wait before the assertions,
 * not the assertion itself — that is `eventually`).
 */
export async function until(cond: () => boolean | Promise<boolean>, ms = 15_000, everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not reached within ${ms} ms`);
    await sleep(everyMs);
  }
}
