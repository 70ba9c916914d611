import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JwtRole, OWNED_PREFIX } from '@app/domain/openbao/policy-renderer';
import { bao, BaoClient, baoClient, isStatus } from './bao-client';

/**
 * Where rendered policies and JWT roles go: a real OpenBao (production) or DATA_DIR/policies
 * (embedded). The reconciler diffs desired against what `list`/`read` return and writes only the
 * difference. Only policies with OWNED_PREFIX are ever listed, written or removed; on the service's
 * own JWT mount every role is listed, and any the renderer did not make is removed.
 */
export interface PolicyTarget {
  readonly kind: 'openbao' | 'files';
  /** Prepares the target (e.g. enables and configures JWT auth). Idempotent. */
  prepare(): Promise<void>;
  /** Whether what prepare() made is still there (read only): false after OpenBao restarted empty. */
  isPrepared(): Promise<boolean>;
  listPolicies(): Promise<string[]>;
  readPolicy(name: string): Promise<string | undefined>;
  writePolicy(name: string, hcl: string): Promise<void>;
  deletePolicy(name: string): Promise<void>;
  listRoles(): Promise<string[]>;
  readRole(name: string): Promise<Partial<JwtRole> | undefined>;
  writeRole(name: string, role: JwtRole): Promise<void>;
  deleteRole(name: string): Promise<void>;
}

const owned = (names: string[]) => names.filter((n) => n.startsWith(OWNED_PREFIX)).sort();

/** Embedded profile: one file per policy (`<name>.hcl`) and per role (`roles/<name>.json`), written atomically. */
export class FilePolicyTarget implements PolicyTarget {
  readonly kind = 'files';
  constructor(private readonly dir: string) {}

  async prepare(): Promise<void> {
    mkdirSync(join(this.dir, 'roles'), { recursive: true, mode: 0o700 });
  }
  async isPrepared(): Promise<boolean> {
    return existsSync(join(this.dir, 'roles'));
  }
  private names(dir: string, ext: string): string[] {
    try {
      return owned(readdirSync(dir).filter((f) => f.endsWith(ext)).map((f) => f.slice(0, -ext.length)));
    } catch {
      return [];
    }
  }
  private read(path: string): string | undefined {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  }
  private write(path: string, text: string): void {
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, path);
  }
  async listPolicies() {
    return this.names(this.dir, '.hcl');
  }
  async readPolicy(name: string) {
    return this.read(join(this.dir, `${name}.hcl`));
  }
  async writePolicy(name: string, hcl: string) {
    this.write(join(this.dir, `${name}.hcl`), hcl);
  }
  async deletePolicy(name: string) {
    rmSync(join(this.dir, `${name}.hcl`), { force: true });
  }
  async listRoles() {
    return this.names(join(this.dir, 'roles'), '.json');
  }
  async readRole(name: string) {
    const t = this.read(join(this.dir, 'roles', `${name}.json`));
    return t === undefined ? undefined : (JSON.parse(t) as JwtRole);
  }
  async writeRole(name: string, role: JwtRole) {
    this.write(join(this.dir, 'roles', `${name}.json`), JSON.stringify(role, null, 2) + '\n');
  }
  async deleteRole(name: string) {
    rmSync(join(this.dir, 'roles', `${name}.json`), { force: true });
  }
}

export interface OpenBaoTargetOptions {
  addr: string;
  token: string;
  jwtMount: string;
  /** The CI issuer OpenBao's JWT auth trusts: the same keys the command-api verifies. */
  issuer: string;
  jwksUrl?: string;
  publicKeysPem?: string[];
  /** Signs the broker marker of every write, so the auditor does not take the service's own writes for drift. */
  markerKey?: Uint8Array;
}

export class OpenBaoPolicyTarget implements PolicyTarget {
  readonly kind = 'openbao';
  private readonly client: BaoClient;
  constructor(private readonly opts: OpenBaoTargetOptions) {
    this.client = baoClient(opts.addr, opts.token, opts.markerKey);
  }

  async prepare(): Promise<void> {
    const mounts = await bao(() => this.client.auths());
    const key = `${this.opts.jwtMount}/`;
    const existing = (mounts.data ?? mounts)[key] as { type?: string } | undefined;
    if (!existing) await bao(() => this.client.enableAuth({ mount_point: this.opts.jwtMount, type: 'jwt', description: 'pipeline-secrets: CI job logins' }));
    else if (existing.type !== 'jwt') throw new Error(`auth mount ${key} exists and is not a jwt auth method`);
    const config: Record<string, unknown> = { bound_issuer: this.opts.issuer };
    if (this.opts.jwksUrl) config.jwks_url = this.opts.jwksUrl;
    else config.jwt_validation_pubkeys = this.opts.publicKeysPem ?? [];
    await bao(() => this.client.write(`auth/${this.opts.jwtMount}/config`, config));
  }

  /** The JWT mount exists and trusts the issuer (one read; a mount gone or unconfigured = not prepared). */
  async isPrepared(): Promise<boolean> {
    try {
      const cfg = await bao(() => this.client.read(`auth/${this.opts.jwtMount}/config`));
      return cfg?.data?.bound_issuer === this.opts.issuer;
    } catch (e) {
      // 404/400: no such mount or no config yet; 403 on a path that does not exist is what OpenBao says for a missing mount.
      if (isStatus(e, 400, 403, 404)) return false;
      throw e;
    }
  }

  async listPolicies() {
    const res = await bao(() => this.client.list('sys/policies/acl'));
    return owned((res.data.keys as string[]) ?? []);
  }
  async readPolicy(name: string) {
    try {
      return String((await bao(() => this.client.read(`sys/policies/acl/${name}`))).data.policy);
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }
  async writePolicy(name: string, hcl: string) {
    await bao(() => this.client.write(`sys/policies/acl/${name}`, { policy: hcl }));
  }
  async deletePolicy(name: string) {
    await bao(() => this.client.delete(`sys/policies/acl/${name}`));
  }
  /**
   * EVERY role on the service's JWT mount, not only ps-ci-* ones (round-3 review of issue 18, item
   * 3): the mount is the service's own, so a role of any other name (e.g. `backdoor` carrying a
   * ps-ci-* policy) is one the projector did not render, and the reconciler deletes it.
   */
  async listRoles() {
    try {
      return (((await bao(() => this.client.list(`auth/${this.opts.jwtMount}/role`))).data.keys as string[]) ?? []).slice().sort();
    } catch (e) {
      if (isStatus(e, 404)) return [];
      throw e;
    }
  }
  async readRole(name: string) {
    try {
      return (await bao(() => this.client.read(`auth/${this.opts.jwtMount}/role/${name}`))).data as Partial<JwtRole>;
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }
  async writeRole(name: string, role: JwtRole) {
    // token_policies as OpenBao's comma string, not a JSON list: the service policy's
    // allowed_parameters glob (`ps-ci-*`) only matches strings in OpenBao 2.7.2 (a list never
    // matches), and its denied `*,*` then refuses a second, foreign policy (docs/openbao.md).
    await bao(() => this.client.write(`auth/${this.opts.jwtMount}/role/${name}`, { ...role, token_policies: role.token_policies.join(',') }));
  }
  async deleteRole(name: string) {
    await bao(() => this.client.delete(`auth/${this.opts.jwtMount}/role/${name}`));
  }
}
