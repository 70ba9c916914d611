// Exposure reports (issue 22): after a leak, what a subject could read in a window, what it did
// read, and what to rotate. Pure: the inputs are the projected intervals (grants, secret versions
// and scopes, group membership) and the allowed reads of the window; the rules are the ones every
// live decision uses (group/tree.ts grantPlaces and jobPlaceKeys for the tree, grantActions and
// grantCoversSecret for a grant, globMatches for a job's ref), evaluated over time.
import { grantActions } from '../access-policy/access-policy';
import { grantCoversSecret, SecretSubject } from '../authorization/ability';
import { GrantInterval } from '../compliance/readers';
import { globMatches } from '../glob';
import { isAtOrBelow, placeKey, placeOf, PlaceRef } from '../group/place';
import { grantPlaces, jobPlaceKeys } from '../group/tree';
import { intersect, isEmpty, span, spanOf, SpanSet, toIso, union } from './intervals';

export const MAX_EXPOSURE_WINDOW_DAYS = 366;
/** At most this many reads are listed in `did`; the total and every read version are still exact. */
export const MAX_DID_ITEMS = 10_000;

export type ExposureSubject =
  /** `groups`: the group claims the user's tokens carried (the identity provider knows them); grants to those groups count too. */
  | { type: 'user'; id: string; groups?: string[] }
  | { type: 'group'; id: string }
  | { type: 'ci-job'; projectId: string; ref?: string; pipelineId?: string }
  | { type: 'secret'; placeKey: string; name: string; version?: number };

/** A grant of a place, with its validity interval. */
export interface ExposureGrant extends GrantInterval {
  placeKey: string;
}

/** One value version of one secret: current from `from` until the next version or the deletion (`to`), null = still current. */
export interface ExposureVersion {
  placeKey: string;
  name: string;
  /** Stream revision: a version number repeats after a delete and re-create, the revision never. */
  revision: number;
  version: number;
  from: string;
  to: string | null;
}

/** The secret's scope over time (rm_secret_scopes). */
export interface ExposureScope {
  placeKey: string;
  name: string;
  environment: string | null;
  branch: string | null;
  protectedOnly: boolean;
  validFrom: string;
  validTo: string | null;
}

/** A project in a group over [validFrom, validTo). */
export interface MembershipInterval {
  projectId: string;
  groupId: string;
  validFrom: string;
  validTo: string | null;
}

/** An allowed read (SecretAccessed, either channel). */
export interface ExposureRead {
  eventId: string;
  placeKey: string;
  name: string;
  version: number;
  principal: { type: 'user' | 'ci-job'; id: string };
  /** The job's project when a CI job read another place's (a group's) secret. */
  jobProjectId?: string | null;
  pipelineId?: string | null;
  jobId?: string | null;
  ref?: string | null;
  channel: string;
  occurredAt: string;
  viaGrantId?: string | null;
}

export interface ExposureInputs {
  subject: ExposureSubject;
  from: string;
  to: string;
  grants: readonly ExposureGrant[];
  versions: readonly ExposureVersion[];
  scopes: readonly ExposureScope[];
  memberships: readonly MembershipInterval[];
  reads: readonly ExposureRead[];
  /**
   * Every (place, secret, version) the subject read in the window, when `reads` is only the first
   * of them (a bounded answer): rotate and notCovered use it, so a cut list never drops a version.
   */
  readVersions?: readonly { placeKey: string; name: string; version: number; count: number }[];
  /** Whether the caller has read-audit on a place (its key): what the report may name. */
  covered: (placeKey: string) => boolean;
}

export type ExposureVia =
  | { grantId: string; role: string; principal: { type: string; id: string }; grantedBy: string; inheritedFrom?: PlaceRef; accessRequestId?: string; breakGlass?: true }
  | { rule: 'ci-job-scope'; projectId: string };

export interface Interval {
  from: string;
  to: string;
}

export interface CouldRead {
  place: PlaceRef;
  name: string;
  version: number;
  /** Instants of the window at which the version was readable, the union of `via`'s. */
  intervals: Interval[];
  via: { via: ExposureVia; intervals: Interval[] }[];
}

export interface DidRead {
  place: PlaceRef;
  name: string;
  version: number;
  at: string;
  channel: string;
  principal: { type: string; id: string };
  projectId?: string;
  pipelineId?: string;
  jobId?: string;
  ref?: string;
  eventId: string;
}

export interface RotateItem {
  place: PlaceRef;
  name: string;
  version: number;
  read: boolean;
}

export interface ExposureReport {
  subject: Record<string, unknown>;
  from: string;
  to: string;
  could: CouldRead[];
  did: DidRead[];
  /** Reads in the window at covered places; `did` holds the first MAX_DID_ITEMS of them (access-history pages through all). */
  didTotal: number;
  didTruncated: boolean;
  rotate: RotateItem[];
  /** Places where the subject was exposed but the caller lacks read-audit: counted, never named. */
  notCovered: number;
  /** Secret subjects: the pipelines whose evidence lists the secret (their jobs read it in the window). */
  pipelines?: { projectId: string; pipelineId: string }[];
}

const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
const keyOf = (v: { placeKey: string; name: string }) => `${v.placeKey}\u0000${v.name}`;

/**
 * The places whose grants act on `placeKey`, over time: a group's are fixed; a project's follow
 * its membership (grantPlaces of the group it was in), with gaps where it was in none.
 */
function grantingPlacesOverTime(key: string, memberships: readonly MembershipInterval[]): { keys: Set<string>; when: SpanSet }[] {
  const place = placeOf(key);
  if (!place) return [];
  const keysOf = (g: string | null) => new Set(grantPlaces(place, g).map((p) => placeKey(p)));
  if (place.type === 'group') return [{ keys: keysOf(null), when: span(-Infinity, Infinity) }];
  const mine = memberships.filter((m) => m.projectId === place.id);
  const inGroup = union(...mine.map((m) => spanOf(m.validFrom, m.validTo)));
  const out = mine.map((m) => ({ keys: keysOf(m.groupId), when: spanOf(m.validFrom, m.validTo) }));
  return [...out, { keys: keysOf(null), when: complement(inGroup) }];
}

/** The places a CI job of `projectId` read from, over time (jobPlaceKeys of the group it was in). */
function jobPlacesOverTime(projectId: string, memberships: readonly MembershipInterval[]): { keys: Set<string>; when: SpanSet }[] {
  const mine = memberships.filter((m) => m.projectId === projectId);
  const inGroup = union(...mine.map((m) => spanOf(m.validFrom, m.validTo)));
  return [...mine.map((m) => ({ keys: new Set(jobPlaceKeys(projectId, m.groupId)), when: spanOf(m.validFrom, m.validTo) })), { keys: new Set(jobPlaceKeys(projectId, null)), when: complement(inGroup) }];
}

function complement(s: SpanSet): SpanSet {
  const out: { from: number; to: number }[] = [];
  let at = -Infinity;
  for (const x of s) {
    if (x.from > at) out.push({ from: at, to: x.from });
    at = Math.max(at, x.to);
  }
  if (at < Infinity) out.push({ from: at, to: Infinity });
  return out;
}

function whenIn(over: { keys: Set<string>; when: SpanSet }[], key: string): SpanSet {
  return union(...over.filter((o) => o.keys.has(key)).map((o) => o.when));
}

function subjectOf(scope: ExposureScope): SecretSubject {
  return { projectId: scope.placeKey, name: scope.name, environment: scope.environment, branch: scope.branch, protectedOnly: scope.protectedOnly };
}

function grantVia(g: ExposureGrant, target: string): ExposureVia {
  const inherited = g.placeKey !== target ? placeOf(g.placeKey) : null;
  return {
    grantId: g.grantId,
    role: g.role,
    principal: { type: g.principal.type, id: g.principal.id },
    grantedBy: g.grantedBy,
    ...(inherited ? { inheritedFrom: inherited } : {}),
    ...(g.accessRequestId !== undefined ? { accessRequestId: g.accessRequestId } : {}),
    ...(g.breakGlass === true ? { breakGlass: true as const } : {}),
  };
}

/** Whether a job with this (possibly unknown) ref could match a scope: unknown environment and protection count as matching (the worst case). */
function jobCouldMatch(scope: ExposureScope, ref: string | undefined): boolean {
  if (scope.branch === null || ref === undefined) return true;
  return globMatches(scope.branch, ref);
}

/**
 * For each version of each secret, who or what could read it when, within the window:
 * `who(grant)` chooses the grants that count (the subject's, or every grant for a secret subject),
 * `ci` the CI rules (the job's, or every project's for a secret subject).
 */
function couldRead(input: ExposureInputs, window: SpanSet, who: (g: ExposureGrant) => boolean, ci: (version: ExposureVersion, scope: ExposureScope, during: SpanSet) => { via: ExposureVia; when: SpanSet }[]): CouldRead[] {
  const scopesBySecret = new Map<string, ExposureScope[]>();
  for (const s of input.scopes) scopesBySecret.set(keyOf(s), [...(scopesBySecret.get(keyOf(s)) ?? []), s]);
  // A grant counts if it reads, or if it makes its holder eligible to break the glass (an immediate
  // owner-level grant): whoever held the subject's credentials could have done that too.
  const grants = input.grants.filter((g) => who(g) && (g.role === 'break-glass' || grantActions({ role: g.role, breakGlass: g.breakGlass }).includes('read')));
  const out: CouldRead[] = [];
  for (const v of input.versions) {
    const current = intersect(window, spanOf(v.from, v.to));
    if (isEmpty(current)) continue;
    const over = grantingPlacesOverTime(v.placeKey, input.memberships);
    const byVia = new Map<string, { via: ExposureVia; when: SpanSet }>();
    const add = (id: string, via: ExposureVia, when: SpanSet) => {
      if (isEmpty(when)) return;
      const had = byVia.get(id);
      byVia.set(id, { via, when: had ? union(had.when, when) : when });
    };
    for (const scope of scopesBySecret.get(keyOf(v)) ?? []) {
      const during = intersect(current, spanOf(scope.validFrom, scope.validTo));
      if (isEmpty(during)) continue;
      for (const g of grants) {
        if (!grantCoversSecret(g, subjectOf(scope))) continue;
        add(`g:${g.placeKey}:${g.grantId}`, grantVia(g, v.placeKey), intersect(intersect(during, spanOf(g.validFrom, g.validTo)), whenIn(over, g.placeKey)));
      }
      for (const c of ci(v, scope, during)) add(`ci:${JSON.stringify(c.via)}`, c.via, c.when);
    }
    if (byVia.size === 0) continue;
    const via = [...byVia.values()].sort((a, b) => cmp(JSON.stringify(a.via), JSON.stringify(b.via)));
    out.push({
      place: placeOf(v.placeKey)!,
      name: v.name,
      version: v.version,
      intervals: toIso(union(...via.map((x) => x.when))),
      via: via.map((x) => ({ via: x.via, intervals: toIso(x.when) })),
    });
  }
  return out;
}

function didRead(r: ExposureRead): DidRead {
  return {
    place: placeOf(r.placeKey)!,
    name: r.name,
    version: r.version,
    at: new Date(Date.parse(r.occurredAt)).toISOString(),
    channel: r.channel,
    principal: r.principal,
    ...(r.principal.type === 'ci-job' ? { projectId: r.jobProjectId ?? r.placeKey } : {}),
    ...(r.pipelineId ? { pipelineId: r.pipelineId } : {}),
    ...(r.jobId ? { jobId: r.jobId } : {}),
    ...(r.ref ? { ref: r.ref } : {}),
    eventId: r.eventId,
  };
}

/**
 * The report. Deterministic: every list is sorted on stable keys and nothing depends on the time
 * it is computed, so a closed window always gives the same report.
 */
export function exposureReport(input: ExposureInputs): ExposureReport {
  const { subject } = input;
  const window = span(Date.parse(input.from), Date.parse(input.to));
  // The window is half-open, [from, to), for reads as for every interval: a grant ending exactly at
  // `from` or starting exactly at `to` never acted in it.
  const inWindow = (r: ExposureRead) => {
    const t = Date.parse(r.occurredAt);
    return t >= Date.parse(input.from) && t < Date.parse(input.to);
  };
  let could: CouldRead[];
  let reads: ExposureRead[];
  const noCi = () => [];
  switch (subject.type) {
    case 'user':
    case 'group': {
      const claims = new Set(subject.type === 'user' ? (subject.groups ?? []) : [subject.id]);
      const mine = (g: ExposureGrant) => (g.principal.type === 'user' ? subject.type === 'user' && g.principal.id === subject.id : claims.has(g.principal.id));
      could = couldRead(input, window, mine, noCi);
      const grantIds = new Set(input.grants.filter((g) => g.principal.type === 'group' && g.principal.id === subject.id).map((g) => g.grantId));
      reads = input.reads.filter((r) => (subject.type === 'user' ? r.principal.type === 'user' && r.principal.id === subject.id : r.viaGrantId != null && grantIds.has(r.viaGrantId)));
      break;
    }
    case 'ci-job': {
      const over = jobPlacesOverTime(subject.projectId, input.memberships);
      could = couldRead(input, window, () => false, (v, scope, during) =>
        jobCouldMatch(scope, subject.ref) ? [{ via: { rule: 'ci-job-scope', projectId: subject.projectId }, when: intersect(during, whenIn(over, v.placeKey)) }] : [],
      );
      reads = input.reads.filter(
        (r) =>
          r.principal.type === 'ci-job' &&
          (r.jobProjectId ?? r.placeKey) === subject.projectId &&
          (subject.ref === undefined || r.ref === subject.ref) &&
          (subject.pipelineId === undefined || r.pipelineId === subject.pipelineId),
      );
      break;
    }
    case 'secret': {
      const mine = (v: { placeKey: string; name: string; version?: number }) => v.placeKey === subject.placeKey && v.name === subject.name;
      const versions = input.versions.filter((v) => mine(v) && (subject.version === undefined || v.version === subject.version));
      could = couldRead({ ...input, versions }, window, () => true, (v, _scope, during) => ciReadersOf(v.placeKey, during, input.memberships));
      reads = input.reads.filter((r) => mine(r) && (subject.version === undefined || r.version === subject.version));
      break;
    }
  }
  reads = reads.filter(inWindow);
  // Every version read: the complete list when the caller gave one (reads may be cut), else the reads themselves.
  let readVersions = input.readVersions ?? versionsOf(reads);
  const exposedPlaces = new Set([...could.map((c) => placeKey(c.place)), ...readVersions.map((r) => r.placeKey)]);
  const notCovered = [...exposedPlaces].filter((k) => !input.covered(k)).length;
  could = could.filter((c) => input.covered(placeKey(c.place)));
  reads = reads.filter((r) => input.covered(r.placeKey));
  readVersions = readVersions.filter((r) => input.covered(r.placeKey));
  could.sort((a, b) => cmp(placeKey(a.place), placeKey(b.place)) || cmp(a.name, b.name) || a.version - b.version);
  const all = reads.map(didRead).sort((a, b) => cmp(a.at, b.at) || cmp(a.eventId, b.eventId));
  const didTotal = readVersions.reduce((n, r) => n + r.count, 0);
  const did = all.slice(0, MAX_DID_ITEMS);
  const report: ExposureReport = {
    subject: publicSubject(subject),
    from: new Date(Date.parse(input.from)).toISOString(),
    to: new Date(Date.parse(input.to)).toISOString(),
    could,
    did,
    didTotal,
    didTruncated: didTotal > did.length,
    rotate: rotateList(input, could, readVersions),
    notCovered,
  };
  if (subject.type === 'secret') {
    const seen = new Map<string, { projectId: string; pipelineId: string }>();
    for (const r of reads) {
      if (r.principal.type !== 'ci-job' || !r.pipelineId) continue;
      const projectId = r.jobProjectId ?? r.placeKey;
      seen.set(`${projectId}\u0000${r.pipelineId}`, { projectId, pipelineId: r.pipelineId });
    }
    report.pipelines = [...seen.values()].sort((a, b) => cmp(a.projectId, b.projectId) || cmp(a.pipelineId, b.pipelineId));
  }
  return report;
}

/** For a secret subject: every project whose jobs could read the place's secrets, when (its own project; or the projects in or below the group then). */
function ciReadersOf(placeKey: string, during: SpanSet, memberships: readonly MembershipInterval[]): { via: ExposureVia; when: SpanSet }[] {
  const place = placeOf(placeKey);
  if (!place) return [];
  if (place.type === 'project') return [{ via: { rule: 'ci-job-scope', projectId: place.id }, when: during }];
  const byProject = new Map<string, SpanSet>();
  for (const m of memberships) {
    if (!isAtOrBelow(m.groupId, place.id)) continue;
    byProject.set(m.projectId, union(byProject.get(m.projectId) ?? [], intersect(during, spanOf(m.validFrom, m.validTo))));
  }
  return [...byProject].map(([projectId, when]) => ({ via: { rule: 'ci-job-scope' as const, projectId }, when }));
}

/** Current versions readable or read in the window: read ones first, then by place and name. */
function versionsOf(reads: readonly ExposureRead[]): { placeKey: string; name: string; version: number; count: number }[] {
  const m = new Map<string, { placeKey: string; name: string; version: number; count: number }>();
  for (const r of reads) {
    const k = `${keyOf(r)}\u0000${r.version}`;
    const had = m.get(k);
    if (had) had.count++;
    else m.set(k, { placeKey: r.placeKey, name: r.name, version: r.version, count: 1 });
  }
  return [...m.values()];
}

function rotateList(input: ExposureInputs, could: CouldRead[], reads: readonly { placeKey: string; name: string; version: number }[]): RotateItem[] {
  const current = new Map(input.versions.filter((v) => v.to === null).map((v) => [keyOf(v), v]));
  const out = new Map<string, RotateItem>();
  for (const c of could) {
    const v = current.get(keyOf({ placeKey: placeKey(c.place), name: c.name }));
    if (v && v.version === c.version) out.set(keyOf(v), { place: c.place, name: c.name, version: c.version, read: false });
  }
  for (const r of reads) {
    const v = current.get(keyOf(r));
    if (v && v.version === r.version) out.set(keyOf(v), { place: placeOf(v.placeKey)!, name: v.name, version: v.version, read: true });
  }
  return [...out.values()].sort((a, b) => Number(b.read) - Number(a.read) || cmp(placeKey(a.place), placeKey(b.place)) || cmp(a.name, b.name));
}

function publicSubject(s: ExposureSubject): Record<string, unknown> {
  if (s.type !== 'secret') return { ...s };
  const place = placeOf(s.placeKey)!;
  return { type: 'secret', ...(place.type === 'group' ? { groupId: place.id } : { projectId: place.id }), name: s.name, ...(s.version !== undefined ? { version: s.version } : {}) };
}
