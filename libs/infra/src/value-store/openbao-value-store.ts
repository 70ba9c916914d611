import { SecretValueKey, SecretValueMissingError, SecretValueStore, StoreUnavailableError } from '@app/domain';
import { kvPath } from '@app/domain/openbao/policy-renderer';
import { bao, BaoClient, baoClient, isStatus } from '../openbao/bao-client';

// Secret values in OpenBao KV v2, one KV secret per (project, secret name) with one KV version per
// value version. Every write is a check-and-set against the KV version just read, so two writers
// can never silently overwrite each other; the event records the exact KV version it refers to
// (`valueRef`), and reads ask for that version, never "latest".

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

/** bao:<kv mount>:<prefix>/<project>/<NAME>#<kv version> */
const REF = /^bao:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]{1,64}\/[a-z0-9][a-z0-9._-]{0,63}\/[A-Z][A-Z0-9_]{0,127})#([1-9]\d{0,9})$/;

export interface BaoRef {
  mount: string;
  path: string;
  version: number;
}

export function formatBaoRef(r: BaoRef): string {
  return `bao:${r.mount}:${r.path}#${r.version}`;
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

const MAX_CAS_ATTEMPTS = 8;
const KEEP_VERSIONS = 1_000_000;

export class OpenBaoValueStore implements SecretValueStore {
  private readonly client: BaoClient;

  constructor(private readonly opts: OpenBaoValueStoreOptions) {
    this.client = baoClient(opts.addr, opts.token, opts.markerKey);
  }

  private path(key: Pick<SecretValueKey, 'projectId' | 'name'>): string {
    return kvPath(this.opts, key.projectId, key.name);
  }

  private async currentVersion(path: string): Promise<number> {
    try {
      const md = await bao(() => this.client.read(`${this.opts.kvMount}/metadata/${path}`));
      return Number(md.data.current_version ?? 0);
    } catch (e) {
      if (isStatus(e, 404)) return 0;
      throw e;
    }
  }

  async put(key: SecretValueKey, value: string): Promise<{ valueRef: string }> {
    const path = this.path(key);
    for (let attempt = 1; ; attempt++) {
      const cas = await this.currentVersion(path);
      // KV v2 prunes all but the newest `max_versions` (10 by default), which a burst of failed or
      // racing writes could push the version an event refers to out of. Which versions live is
      // this service's decision (destroyed on delete, on a lost race, or by the orphan sweep).
      if (cas === 0) await bao(() => this.client.write(`${this.opts.kvMount}/metadata/${path}`, { max_versions: KEEP_VERSIONS }));
      try {
        const res = await bao(() => this.client.write(`${this.opts.kvMount}/data/${path}`, { data: { value }, options: { cas } }));
        return { valueRef: formatBaoRef({ mount: this.opts.kvMount, path, version: Number(res.data.version) }) };
      } catch (e) {
        // 400 = check-and-set lost to a concurrent writer: read the new version and try again.
        if (isStatus(e, 400) && attempt < MAX_CAS_ATTEMPTS) continue;
        throw e;
      }
    }
  }

  /** `accessEventId`: the SecretAccessed event appended for this read; the request's broker marker names it. */
  async get(valueRef: string, accessEventId?: string): Promise<string> {
    return this.readWith(this.client, valueRef, accessEventId);
  }

  /**
   * Reads as the CI job itself: logs in to OpenBao's JWT auth with the job's own token and the role
   * of the secret's scope, reads with that short-lived token, then revokes it. OpenBao enforces
   * the scope a second time; the service's token is not used.
   */
  async getAsJob(valueRef: string, jobJwt: string, role: string, accessEventId?: string): Promise<string> {
    const login = await bao(() => this.client.write(`auth/${this.opts.jwtMount}/login`, { role, jwt: jobJwt }));
    const jobClient = baoClient(this.opts.addr, String(login.auth.client_token), this.opts.markerKey);
    try {
      return await this.readWith(jobClient, valueRef, accessEventId);
    } finally {
      await bao(() => jobClient.write('auth/token/revoke-self', {})).catch(() => undefined);
    }
  }

  private async readWith(client: BaoClient, valueRef: string, accessEventId?: string): Promise<string> {
    const ref = parseBaoRef(valueRef);
    if (!ref) throw new SecretValueMissingError(valueRef);
    const path = `${ref.mount}/data/${ref.path}?version=${ref.version}`;
    try {
      const res = await bao(() => (accessEventId ? client.readBrokered(path, accessEventId) : client.read(path)));
      const v = res.data?.data?.value;
      if (typeof v !== 'string') throw new SecretValueMissingError(valueRef);
      return v;
    } catch (e) {
      if (isStatus(e, 404)) throw new SecretValueMissingError(valueRef);
      throw e;
    }
  }

  async destroy(valueRefs: string[]): Promise<void> {
    const byPath = new Map<string, { mount: string; versions: number[] }>();
    for (const r of valueRefs.map(parseBaoRef)) {
      if (!r) continue;
      const k = `${r.mount}:${r.path}`;
      const e = byPath.get(k) ?? { mount: r.mount, versions: [] };
      e.versions.push(r.version);
      byPath.set(k, e);
    }
    for (const [k, { mount, versions }] of byPath) {
      const path = k.slice(mount.length + 1);
      await bao(() => this.client.write(`${mount}/destroy/${path}`, { versions }));
    }
  }

  /** Every KV version under our prefix that is not destroyed, with its creation time. */
  async *versions(): AsyncGenerator<OrphanVersion> {
    const list = async (p: string): Promise<string[]> => {
      try {
        return ((await bao(() => this.client.list(`${this.opts.kvMount}/metadata/${p}`))).data.keys as string[]) ?? [];
      } catch (e) {
        if (isStatus(e, 404)) return [];
        throw e;
      }
    };
    for (const project of await list(this.opts.kvPrefix)) {
      if (!project.endsWith('/')) continue;
      for (const name of await list(`${this.opts.kvPrefix}/${project}`)) {
        if (name.endsWith('/')) continue;
        const path = `${this.opts.kvPrefix}/${project}${name}`;
        const md = await bao(() => this.client.read(`${this.opts.kvMount}/metadata/${path}`));
        for (const [v, info] of Object.entries((md.data.versions ?? {}) as Record<string, { created_time: string; destroyed: boolean }>)) {
          if (!info.destroyed) yield { ref: formatBaoRef({ mount: this.opts.kvMount, path, version: Number(v) }), createdAt: info.created_time };
        }
      }
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
