import { Inject, Injectable } from '@nestjs/common';
import {
  decideAccess,
  DenialReason,
  EventStore,
  EventToAppend,
  Principal,
  purposeError,
  SecretAccessed,
  SecretAccessDenied,
  SecretScope,
  SecretValueMissingError,
  SecretValueStore,
  StoreUnavailableError,
  StreamName,
  jobMatchesScope,
  placeOf,
  resolveDownTheTree,
  secretSubjectOf,
  SecretState,
} from '@app/domain';
import { directlyReadable, jobRoleName } from '@app/domain/openbao/policy-renderer';
import { SecretValueNotDelivered, ValueNotDeliveredReason } from '@app/domain/openbao/value-delivery';
import { describeError, JsonLogger } from '@app/infra/logging/logger';
import { EVENT_STORE, LOGGER, METRICS, VALUE_STORE } from '@app/infra/nest/tokens';
import { isAnswer } from '@app/infra/openbao/bao-client';
import { OpenBaoValueStore } from '@app/infra/value-store/openbao-value-store';
import { Metrics } from '@app/infra/observability/metrics';
import { AccessControl } from '../application/access-control';
import { CommandContext, envelope } from '../application/event-envelope';
import { ProblemException, problems } from '../http/problem';
import { SecretStates } from './secret-states';

// Reading secret values: one secret (POST .../secrets/{name}/access) or many in one call
// (POST .../secrets/access), the same code. Each name is decided on its own by decideAccess, and
// each decision is its own event; the allowed ones are durable, in one append, before any value
// is read; a CI job's OpenBao login is made once per distinct scope role of the call.

export interface AccessRequest {
  projectId: string;
  names: string[];
  purpose: string | null;
  principal: Principal;
  ctx: CommandContext;
  /** A CI job's own bearer token, for its OpenBao login. */
  ciJobToken?: string;
}

/** Where a value came from: the project's own secret or a group's (API.md: `source` on every item). */
export type SecretSource = { type: 'project'; id: string } | { type: 'group'; id: string };

export interface AccessOutcome {
  items: { name: string; version: number; value: string; source: SecretSource }[];
  denied: { name: string; reason: DenialReason | ValueNotDeliveredReason }[];
}

/** One allowed name, its event already built. */
interface Grant {
  /** The place key of the secret read (a group's when a job's name resolved up the tree). */
  key: string;
  name: string;
  version: number;
  valueRef: string;
  scope: SecretScope;
  /** When the secret's scope or value last changed: what the projector's OpenBao role and policy must reflect. */
  changedAt: string;
  event: EventToAppend;
}

/**
 * How long after a secret's last change OpenBao may still refuse a CI job because the projector
 * has not rendered its role or policy yet: within it, the service token reads (counted, logged);
 * after it, OpenBao's refusal stands (the second check holds) and no value leaves.
 */
export const OPENBAO_PROJECTION_GRACE_MS = 60_000;

/**
 * Up to this many reads of one scope role in one call, the job reads with inline auth (one request
 * per value, each carrying the job's login); above it, one login, the reads with that token, one
 * revoke. Measured with bench/inline-vs-login.ts (docs/openbao.md, "How CI jobs read").
 */
export const INLINE_AUTH_MAX_READS = 4;

function sourceOf(key: string): SecretSource {
  const place = placeOf(key);
  return place ?? { type: 'project', id: key };
}

/** A read that failed after its SecretAccessed was durable. */
class NotDelivered {
  constructor(readonly reason: ValueNotDeliveredReason, readonly answer: unknown) {}
}

@Injectable()
export class SecretAccess {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(VALUE_STORE) private readonly values: SecretValueStore,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly logger: JsonLogger,
    private readonly secrets: SecretStates,
    private readonly access: AccessControl,
  ) {}

  /**
   * `single` chooses where the allowed events are appended, in one append: the secret's own
   * access log for the single-secret call, the project's access log for a batch (one stream, so
   * one append is atomic on every adapter).
   */
  async read(req: AccessRequest, single: boolean): Promise<AccessOutcome> {
    const { projectId, names, purpose, principal, ctx } = req;
    // A CI job reads from its project, its group and the groups above (as they are now); through its own
    // project's endpoint each name resolves down that chain, nearest first. Anyone else reads the place named.
    // Asked in the same turn, so the event store sends them as one statement (issue 23: one round trip
    // fewer): the job's group, the effective policy (own and inherited grants; its group read joins
    // that statement) and each name's secret at the endpoint's own place, which is the nearest place
    // of every chain. The rest of a grouped job's chain is read once its group is known.
    const jobPlacesP = principal.kind === 'ci-job' ? this.access.jobPlaces(principal.projectId) : Promise.resolve(undefined);
    const policyP = this.access.effective(projectId);
    const nearest = names.map((n) => this.secrets.forSecret(projectId, n));
    for (const p of [policyP, ...nearest]) p.catch(() => undefined); // awaited below; a failure is the read's failure, never an unhandled one
    const jobPlaces = await jobPlacesP;
    const chain = jobPlaces && principal.kind === 'ci-job' && principal.projectId === projectId ? jobPlaces : [projectId];
    if (chain[0] !== projectId) throw new Error('unreachable: a chain starts at the endpoint\'s place (group/tree.ts jobPlaceKeys)');
    const [policy, resolved] = await Promise.all([policyP, Promise.all(names.map((n, i) => this.resolve(chain, n, principal, jobPlaces, nearest[i])))]);
    const states = resolved;
    const policies = new Map([[projectId, policy]]);
    // A bad purpose is a 400, but a probe is still audited: decide without it, record the denials, then refuse.
    const badPurpose = purposeError(purpose);
    const denied: AccessOutcome['denied'] = [];
    const denials: SecretAccessDenied[] = [];
    const grants: Grant[] = [];
    // Every name decided first; then the denials recorded.
    for (const [i, name] of names.entries()) {
      const { key, state: secret } = states[i];
      // A group's secret is decided on that group's effective policy (a job needs none: its scope decides).
      let placePolicy = policies.get(key);
      if (!placePolicy) policies.set(key, (placePolicy = await this.access.effective(key)));
      const decision = decideAccess({ type: 'AccessSecret', data: { projectId: key, name, principal, purpose: badPurpose ? null : purpose }, metadata: { now: ctx.now, actor: ctx.actor } }, { secret, policy: placePolicy, jobPlaces });
      if (decision.type === 'SecretAccessDenied') {
        denials.push(decision);
        denied.push({ name, reason: decision.data.reason });
        continue;
      }
      if (secret.status !== 'active') throw new Error('unreachable: decideAccess denies a secret that is not active');
      grants.push({ key, name, version: secret.version, valueRef: secret.valueRef, scope: secret.scope, changedAt: secret.updatedAt, event: envelope(decision satisfies SecretAccessed, ctx) });
    }
    // Each denied name is its own event and spends one unit of the denial rate (past it, the names fold into one
    // rate-limited summary). Only a call whose first denial is already over the rate is a 429, so a batch's own
    // denials never refuse its allowed names; the names of a refused call are still counted in the summary.
    let refusal: ProblemException | undefined;
    for (const [k, d] of denials.entries()) {
      try {
        await this.access.recordDenial(d, ctx, { mayRefuse: k === 0 });
      } catch (e) {
        if (k === 0 && e instanceof ProblemException && e.problem.status === 429) refusal = e;
        else throw e;
      }
    }
    if (refusal) throw refusal;
    if (badPurpose) throw badPurpose; // allowed, but nothing is recorded or returned for a request refused as malformed
    if (grants.length === 0) return { items: [], denied };
    // The values leave only after every SecretAccessed is durable; if that append fails the caller gets 503 and no value.
    await this.store.appendToStream(single ? StreamName.access(grants[0].key, names[0]) : StreamName.access(projectId), 'any', grants.map((g) => g.event));
    for (const g of grants) {
      const via = (g.event.data as SecretAccessed['data']).via;
      this.metrics.accessDecisions.inc({ decision: 'allowed', reason: 'grantId' in via ? 'grant' : 'scope' in via ? via.scope : 'openbao' });
    }
    const results = await this.readValues(grants, req);
    const failed = grants.flatMap((g, i) => (results[i] instanceof NotDelivered ? [{ g, why: results[i] as NotDelivered }] : []));
    if (failed.length > 0) {
      // A value that could not be read: the trail says so. When the store itself failed (or a value of an
      // active secret is gone), no value leaves at all: every allowed one is recorded as not delivered.
      const fatal = failed.find((f) => f.why.reason !== 'secret-deleted' && f.why.reason !== 'openbao-denied');
      const undelivered = fatal ? grants.map((g, i) => ({ g, why: results[i] instanceof NotDelivered ? (results[i] as NotDelivered) : fatal.why })) : failed;
      await this.recordNotDelivered(undelivered.map(({ g, why }) => ({ g, reason: why.reason })), req, single);
      if (fatal) throw fatal.why.answer;
      if (single) throw failed[0].why.answer;
      for (const { g, why } of failed) denied.push({ name: g.name, reason: why.reason });
    }
    const items = grants.flatMap((g, i) => (results[i] instanceof NotDelivered ? [] : [{ name: g.name, version: g.version, value: results[i] as string, source: sourceOf(g.key) }]));
    return { items, denied };
  }

  /**
   * The secret a name means on `chain` (nearest first, group/tree.ts resolveDownTheTree): the first
   * that exists and whose scope the job matches; with none matching, the nearest that exists (its
   * denial is recorded against it); with none at all, the first place's (not found).
   */
  private async resolve(chain: readonly string[], name: string, principal: Principal, jobPlaces: readonly string[] | undefined, first: Promise<{ state: SecretState }>): Promise<{ key: string; state: SecretState }> {
    const loaded = await Promise.all(chain.map((k, i) => (i === 0 ? first : this.secrets.forSecret(k, name))));
    if (chain.length === 1 || principal.kind !== 'ci-job') return { key: chain[0], state: loaded[0].state };
    const candidates = chain.map((key, i) => ({ key, secret: loaded[i].state.status === 'active' ? loaded[i].state : null }));
    const { chosen, nearest } = resolveDownTheTree(candidates, (key, s) => jobMatchesScope(principal, secretSubjectOf(s, key, name), { jobPlaces }));
    const pick = chosen ?? nearest;
    return pick ? { key: pick.key, state: pick.secret as SecretState } : { key: chain[0], state: loaded[0].state };
  }

  /** Reads every allowed value in parallel; a CI job in the production profile reads as itself, one OpenBao login per scope role. */
  private async readValues(grants: Grant[], req: AccessRequest): Promise<(string | NotDelivered)[]> {
    const settle = (g: Grant, p: Promise<string>) => p.catch((e) => this.classify(req, g, e));
    const store = this.values;
    if (!(store instanceof OpenBaoValueStore)) return Promise.all(grants.map((g) => settle(g, store.get(g.valueRef))));
    // Its accessEventId: OpenBao's audit entry of each read carries it in a MAC'd marker, so the auditor does not count it twice;
    // and the place whose access stream holds it when that is not the secret's own (a batch through the job's project reading a group's secret).
    const streamPlace = (g: Grant) => (g.key === req.projectId ? undefined : req.projectId);
    const asService = (g: Grant) => settle(g, store.get(g.valueRef, g.event.eventId, streamPlace(g)));
    if (!req.ciJobToken) return Promise.all(grants.map(asService));
    const jwt = req.ciJobToken;
    const jobProject = req.principal.kind === 'ci-job' ? req.principal.projectId : undefined;
    const byRole = new Map<string, number[]>();
    const apiOnly: number[] = [];
    grants.forEach((g, i) => {
      // A scope OpenBao cannot enforce exactly has no role: the service reads it after its own decision.
      if (!directlyReadable(g.scope) || jobProject === undefined) return void apiOnly.push(i);
      // The job's own project's role of the scope, for its project's secrets and its groups' alike
      // (the projector renders a group secret into the role of every project below the group).
      const role = jobRoleName(jobProject, g.key, g.scope);
      byRole.set(role, [...(byRole.get(role) ?? []), i]);
    });
    const results: (string | NotDelivered)[] = new Array(grants.length);
    if (apiOnly.length > 0) {
      this.metrics.brokeredReads.inc({ as: 'service-api-only-scope' }, apiOnly.length);
      await Promise.all(apiOnly.map(async (i) => (results[i] = await asService(grants[i]))));
    }
    await Promise.all(
      [...byRole].map(async ([role, idx]) => {
        // Names OpenBao refused for the job (its login, or a read: the role or policy not projected yet).
        let refused: number[] = [];
        const readOne = async (i: number, read: (valueRef: string, accessEventId?: string, accessPlace?: string) => Promise<string>) => {
          try {
            results[i] = await read(grants[i].valueRef, grants[i].event.eventId, streamPlace(grants[i]));
          } catch (e) {
            if (isAnswer(e, 400, 403)) refused.push(i);
            else results[i] = await this.classify(req, grants[i], e);
          }
        };
        if (idx.length <= INLINE_AUTH_MAX_READS) {
          // Inline auth: each read carries the job's login; OpenBao checks the JWT against the role on every read.
          await Promise.all(idx.map((i) => readOne(i, (ref, id, place) => store.readInline(ref, jwt, role, id, place))));
        } else {
          try {
            await store.asJob(jwt, role, (read) => Promise.all(idx.map((i) => readOne(i, read))));
          } catch (e) {
            if (!isAnswer(e, 400, 403)) {
              for (const i of idx) results[i] = await this.classify(req, grants[i], e);
              return;
            }
            refused = idx;
          }
        }
        if (idx.length > refused.length) this.metrics.brokeredReads.inc({ as: 'job' }, idx.length - refused.length);
        if (refused.length === 0) return;
        // The event store has already allowed these reads; until the projector has rendered the role
        // (a secret created or moved a moment ago), OpenBao refuses the job: the service token reads, counted and logged.
        const now = Date.parse(req.ctx.now);
        // A group secret's paths enter the job's role when the secret changes, and when the job's project moves into the group.
        const moved = jobProject !== undefined && refused.some((i) => grants[i].key !== jobProject) ? await this.movedAt(jobProject) : undefined;
        const changedAt = (g: Grant) => Math.max(Date.parse(g.changedAt), g.key !== jobProject && moved !== undefined ? moved : -Infinity);
        const fresh = refused.filter((i) => now - changedAt(grants[i]) < OPENBAO_PROJECTION_GRACE_MS);
        const stands = refused.filter((i) => !fresh.includes(i));
        if (stands.length > 0) {
          // Long past its projection: OpenBao's refusal is the second check, and it holds.
          this.metrics.brokeredReads.inc({ as: 'refused-by-openbao' }, stands.length);
          this.logger.error("OpenBao refused the job's own login or read of a secret whose role should long be projected; no value delivered (drifted or tightened role?)", {
            projectId: req.projectId,
            names: stands.map((i) => grants[i].name),
            role,
          });
          for (const i of stands) results[i] = new NotDelivered('openbao-denied', problems.forbidden('openbao-denied'));
        }
        if (fresh.length === 0) return;
        this.metrics.brokeredReads.inc({ as: 'service-fallback' }, fresh.length);
        this.logger.warn("OpenBao refused the job's own login or read (role not projected yet); reading with the service token", {
          projectId: req.projectId,
          names: fresh.map((i) => grants[i].name),
        });
        await Promise.all(fresh.map(async (i) => (results[i] = await asService(grants[i]))));
      }),
    );
    return results;
  }

  /** When the job's project last changed group (undefined: never moved, or the stream cannot be read). */
  private async movedAt(projectId: string): Promise<number | undefined> {
    const loaded = await this.access.memberships.load(StreamName.projectGroup(projectId)).catch(() => undefined);
    const last = loaded?.state.history.at(-1);
    return last ? Date.parse(last.from) : undefined;
  }

  /** What a failed read means: 404 when the secret was deleted meanwhile, 503 when its value is gone with the secret still active or the store did not answer. */
  private async classify(req: AccessRequest, g: Grant, e: unknown): Promise<NotDelivered> {
    if (!(e instanceof SecretValueMissingError)) return new NotDelivered('value-store-unavailable', e);
    const now = await this.secrets.forSecret(g.key, g.name).catch(() => undefined);
    if (now && now.state.status !== 'active') return new NotDelivered('secret-deleted', problems.notFound(`secret ${g.name} was deleted while it was being read; no value was delivered`));
    this.logger.error('stored value missing for an active secret (value store restarted empty or restored from an old backup?)', { projectId: req.projectId, name: g.name, version: g.version });
    return new NotDelivered('value-missing', new StoreUnavailableError('the stored value of this secret version is missing from the value store'));
  }

  /** SecretValueNotDelivered naming each SecretAccessed whose value did not leave, so the trail does not say a value left that did not. */
  private async recordNotDelivered(which: { g: Grant; reason: ValueNotDeliveredReason }[], req: AccessRequest, single: boolean): Promise<void> {
    const events = which.map(({ g, reason }) =>
      envelope({ type: 'SecretValueNotDelivered', data: { accessEventId: g.event.eventId, projectId: g.key, name: g.name, version: g.version, reason } } satisfies SecretValueNotDelivered, req.ctx),
    );
    try {
      // Beside the SecretAccessed each corrects (the same stream as read()'s append).
      await this.store.appendToStream(single ? StreamName.access(which[0].g.key, req.names[0]) : StreamName.access(req.projectId), 'any', events);
    } catch (appendError) {
      // The event store is away too: the SecretAccessed stands uncorrected. Say so where an operator looks.
      this.logger.error('could not record SecretValueNotDelivered; the SecretAccessed it corrects stays uncorrected', {
        projectId: req.projectId,
        accessEventIds: which.map((w) => w.g.event.eventId),
        ...describeError(appendError),
      });
    }
  }
}
