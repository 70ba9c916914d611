import { randomBytes } from 'node:crypto';
import { GROUP_KV_SEGMENT, kvValuePath } from '@app/domain/openbao/policy-renderer';
import { MAX_GROUP_DEPTH, SecretValueKey, SecretValueMissingError, SecretValueStore, StoreUnavailableError } from '@app/domain';
import { bao, BaoClient, baoClient, BaoError, InlineAuth, isAnswer, isStatus } from '../openbao/bao-client';

// Secret values in OpenBao KV v2, one KV secret per value version:
// `<prefix>/<project>/<NAME>/<scope hash>-<nonce>`, written once with check-and-set 0 (create only),
// so no write can ever replace a value an event names, and a policy can grant exactly the values
// written under a scope (libs/domain/src/openbao/policy-renderer.ts). The event records the exact
// reference (`valueRef`, KV version 1), and reads ask for that version, never "latest".
// References of the one-path layout of earlier releases (`<prefix>/<project>/<NAME>#<n>`, one KV
// version per value version) are still read, destroyed and swept; nothing writes them any more.

export interface OpenBaoValueStoreOptions {
  addr: string;
  token: string;
  kvMount: string;
  kvPrefix: string;
  /** JWT auth mount CI jobs log in through (brokered reads). */
  jwtMount: string;
  /** Called (with what was missing) when OpenBao is seen to have lost the service's data: log and count it. */
  onStateLost?: (what: string) => void;
  /** The broker marker key (deriveBrokerMarkerKey): signs the X-Pipeline-Secrets-Broker header the auditor verifies. */
  markerKey?: Uint8Array;
}

/**
 * A KV entry the service writes under its prefix (not a project: project ids start with
 * [a-z0-9]) and checks on every readiness ping. Gone after it was seen = OpenBao restarted empty
 * (dev mode) or was restored from an old backup: every stored value may be gone.
 */
export const SENTINEL_NAME = '_pipeline-secrets-sentinel';

/** bao:<kv mount>:<prefix>/<project>/<NAME>/<16 hex>-<16 hex>#1 (a group's: <prefix>/_groups/<path>/<NAME>/…), or (earlier layout) bao:<kv mount>:<prefix>/<project>/<NAME>#<kv version> */
const REF = /^bao:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]{1,64}\/(?:[a-z0-9][a-z0-9._-]{0,63}|_groups(?:\/[a-z0-9][a-z0-9._-]{0,63}){1,8})\/[A-Z][A-Z0-9_]{0,127}(?:\/[0-9a-f]{16}-[0-9a-f]{16})?)#([1-9]\d{0,9})$/;
/** A value path of the per-version layout (its last segment). */
const VALUE_SEGMENT = /^[0-9a-f]{16}-[0-9a-f]{16}$/;

export interface BaoRef {
  mount: string;
  path: string;
  version: number;
}

export function formatBaoRef(r: BaoRef): string {
  return `bao:${r.mount}:${r.path}#${r.version}`;
}
/** Whether a reference's path is of the per-version layout (one KV secret per value). */
export function isValuePath(path: string): boolean {
  return VALUE_SEGMENT.test(path.slice(path.lastIndexOf('/') + 1));
}

export function parseBaoRef(ref: string): BaoRef | undefined {
  const m = REF.exec(ref);
  return m ? { mount: m[1], path: m[2], version: Number(m[3]) } : undefined;
}

/** A KV version no event refers to (a crash between the KV write and the append). */
export interface OrphanVersion {
  ref: string;
  createdAt: string;
}


export class OpenBaoValueStore implements SecretValueStore {
  private readonly client: BaoClient;

  constructor(private readonly opts: OpenBaoValueStoreOptions) {
    this.client = baoClient(opts.addr, opts.token, opts.markerKey);
  }

  async put(key: SecretValueKey, value: string): Promise<{ valueRef: string }> {
    const path = kvValuePath(this.opts, key.projectId, key.name, key.scope, randomBytes(8).toString('hex'));
    // cas 0: only if the path has never been written. A 400 here means a 64-bit nonce repeated
    // (or someone else wrote the path): never overwrite, let the command fail.
    const res = await bao(() => this.client.write(`${this.opts.kvMount}/data/${path}`, { data: { value }, options: { cas: 0 } }));
    return { valueRef: formatBaoRef({ mount: this.opts.kvMount, path, version: Number(res.data.version) }) };
  }

  /**
   * `accessEventId`: the SecretAccessed event appended for this read; the request's broker marker
   * names it, and `accessPlace` the place whose access stream holds it when that is not the
   * secret's own (a CI job's batch through its project reading a group's secret).
   */
  async get(valueRef: string, accessEventId?: string, accessPlace?: string): Promise<string> {
    return this.readWith(this.client, valueRef, accessEventId, undefined, accessPlace);
  }

  /**
   * Reads as the CI job itself with OpenBao's inline auth: the read carries the job's own JWT and
   * the role of the secret's scope as login headers, OpenBao checks the JWT against the role and
   * the role's policy against the path on this very request, and keeps no token (nothing to
   * revoke, no storage write). OpenBao enforces the scope a second time; the service's token is not used.
   */
  async getAsJob(valueRef: string, jobJwt: string, role: string, accessEventId?: string): Promise<string> {
    return this.readInline(valueRef, jobJwt, role, accessEventId);
  }

  /** One inline-auth read as the job (see getAsJob). */
  async readInline(valueRef: string, jobJwt: string, role: string, accessEventId?: string, accessPlace?: string): Promise<string> {
    return this.readWith(this.client, valueRef, accessEventId, { mount: this.opts.jwtMount, role, jwt: jobJwt }, accessPlace);
  }

  /**
   * One login as the job to `role`, `fn` reads through that token (as many values as it likes, in
   * parallel), and the token is revoked when `fn` ends, however it ends. For a batch with more
   * reads per role than inline auth pays off for (SecretAccess, INLINE_AUTH_MAX_READS).
   */
  async asJob<T>(jobJwt: string, role: string, fn: (read: (valueRef: string, accessEventId?: string, accessPlace?: string) => Promise<string>) => Promise<T>): Promise<T> {
    const login = await bao(() => this.client.write(`auth/${this.opts.jwtMount}/login`, { role, jwt: jobJwt })).catch((e: unknown) => {
      // A login path needs no token while its mount exists, so OpenBao never denies it by policy:
      // "permission denied" here means the mount is not there (yet) for our token (the documented
      // command-api policy has no rule on it). Not a refusal of the job: retry later (503).
      if (isStatus(e, 403)) throw new BaoError(403, (e as BaoError).errors, true);
      throw e;
    });
    const jobClient = baoClient(this.opts.addr, String(login.auth.client_token), this.opts.markerKey);
    try {
      return await fn((valueRef, accessEventId, accessPlace) => this.readWith(jobClient, valueRef, accessEventId, undefined, accessPlace));
    } finally {
      await bao(() => jobClient.write('auth/token/revoke-self', {})).catch(() => undefined);
    }
  }

  private async readWith(client: BaoClient, valueRef: string, accessEventId?: string, inline?: InlineAuth, accessPlace?: string): Promise<string> {
    const ref = parseBaoRef(valueRef);
    if (!ref) throw new SecretValueMissingError(valueRef);
    const path = `${ref.mount}/data/${ref.path}?version=${ref.version}`;
    try {
      const res = await bao(() => client.readFast(path, { inline, accessEventId, accessPlace }));
      const v = res?.data?.data?.value;
      if (typeof v !== 'string') throw new SecretValueMissingError(valueRef);
      return v;
    } catch (e) {
      // A 404 of a KV mount that is not there (yet) is "retry later", not "this value is gone".
      if (isAnswer(e, 404)) throw new SecretValueMissingError(valueRef);
      // Inline auth: OpenBao answers a login it cannot route (the JWT mount is not there for an
      // unauthenticated caller) with a bare "permission denied", as it answers the login itself;
      // the read's own ACL refusal says "1 error occurred: ... permission denied" (both checked on
      // 2.7.2). The first is "not set up yet" (503), not a refusal of the job.
      if (inline && e instanceof BaoError && e.status === 403 && e.errors.length === 1 && e.errors[0] === 'permission denied') throw new BaoError(403, e.errors, true);
      throw e;
    }
  }

  async destroy(valueRefs: string[]): Promise<void> {
    const byPath = new Map<string, { mount: string; path: string; versions: number[] }>();
    for (const r of valueRefs.map(parseBaoRef)) {
      if (!r) continue;
      const k = `${r.mount}:${r.path}`;
      const e = byPath.get(k) ?? { mount: r.mount, path: r.path, versions: [] };
      e.versions.push(r.version);
      byPath.set(k, e);
    }
    for (const { mount, path, versions } of byPath.values()) {
      // A per-version path holds one value: removing its metadata destroys it and its key.
      if (isValuePath(path)) await bao(() => this.client.delete(`${mount}/metadata/${path}`));
      else await bao(() => this.client.write(`${mount}/destroy/${path}`, { versions }));
    }
  }

  private async list(p: string): Promise<string[]> {
    try {
      return ((await bao(() => this.client.list(`${this.opts.kvMount}/metadata/${p}`))).data.keys as string[]) ?? [];
    } catch (e) {
      if (isStatus(e, 404)) return [];
      throw e;
    }
  }

  /** Every KV version under our prefix that is not destroyed, with its creation time (both layouts, projects' and groups'). */
  async *versions(): AsyncGenerator<OrphanVersion> {
    const list = (p: string) => this.list(p);
    for (const project of await list(this.opts.kvPrefix)) {
      if (!project.endsWith('/')) continue;
      if (project === `${GROUP_KV_SEGMENT}/`) {
        yield* this.groupVersions(`${this.opts.kvPrefix}/${project}`, 0);
        continue;
      }
      for (const name of await list(`${this.opts.kvPrefix}/${project}`)) {
        const secretPath = `${this.opts.kvPrefix}/${project}${name}`;
        if (!name.endsWith('/')) {
          yield* this.liveVersions(secretPath); // the one-path layout of earlier releases
          continue;
        }
        for (const v of await list(secretPath)) if (VALUE_SEGMENT.test(v)) yield* this.liveVersions(`${secretPath}${v}`);
      }
    }
  }

  /**
   * The values of group secrets below `dir` (`<prefix>/_groups/<g1>/…/`, `depth` group segments in):
   * a folder named like a secret (upper case first) holds per-version values once at least one
   * group segment is above it; any other folder is a subgroup, at most 8 deep (group paths' limit).
   */
  private async *groupVersions(dir: string, depth: number): AsyncGenerator<OrphanVersion> {
    for (const entry of await this.list(dir)) {
      if (!entry.endsWith('/')) continue;
      if (/^[A-Z]/.test(entry)) {
        if (depth >= 1) for (const v of await this.list(`${dir}${entry}`)) if (VALUE_SEGMENT.test(v)) yield* this.liveVersions(`${dir}${entry}${v}`);
      } else if (depth < MAX_GROUP_DEPTH) {
        yield* this.groupVersions(`${dir}${entry}`, depth + 1);
      }
    }
  }

  /** The KV versions of one path that are not destroyed (none when the path went since it was listed). */
  private async *liveVersions(path: string): AsyncGenerator<OrphanVersion> {
    let md;
    try {
      md = await bao(() => this.client.read(`${this.opts.kvMount}/metadata/${path}`));
    } catch (e) {
      if (isStatus(e, 404)) return; // destroyed since it was listed
      throw e;
    }
    for (const [v, info] of Object.entries((md.data.versions ?? {}) as Record<string, { created_time: string; destroyed: boolean }>)) {
      if (!info.destroyed) yield { ref: formatBaoRef({ mount: this.opts.kvMount, path, version: Number(v) }), createdAt: info.created_time };
    }
  }

  private sentinelSeen = false;

  async ping(): Promise<void> {
    await bao(() => this.client.tokenLookupSelf());
    await this.checkSentinel();
  }

  /**
   * Readiness: the sentinel is there (first ping: written). When it is gone after this process
   * saw it, the ping fails once with a clear message and the sentinel is written again (so the
   * service works again for new values; reads of lost values answer 503).
   */
  private async checkSentinel(): Promise<void> {
    const path = `${this.opts.kvMount}/data/${this.opts.kvPrefix}/${SENTINEL_NAME}`;
    try {
      await bao(() => this.client.read(path));
      this.sentinelSeen = true;
      return;
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
    const lost = this.sentinelSeen;
    await bao(() => this.client.write(path, { data: { owner: 'pipeline-secrets', note: 'readiness sentinel; if it disappears, OpenBao lost its data' } }));
    this.sentinelSeen = true;
    if (lost) {
      this.opts.onStateLost?.(`kv sentinel ${path}`);
      throw new StoreUnavailableError(`OpenBao lost the service's data (sentinel ${path} was gone: restarted empty or restored from an old backup?); stored values may be missing`);
    }
  }
}
