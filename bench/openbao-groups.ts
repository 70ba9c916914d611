// What a group with 1,000 projects costs the OpenBao rendering (issue 20, item 5): a group secret of
// scope S is in the policy of the role (P, S) of every project P below its group, so the work grows
// with the projects below a group. Prints the pure rendering (renderBaoState over the secrets and
// the membership, as the projector's reconciler runs it) and, with BAO_ADDR/BAO_TOKEN, the
// reconciler against a real OpenBao: the first apply, a run with nothing to do, a move of one
// project, a new group secret.
//
//   node -r @swc-node/register bench/openbao-groups.ts                 # rendering only
//   BAO_ADDR=... BAO_TOKEN=... node -r @swc-node/register bench/openbao-groups.ts        # and OpenBao
//
// Give it an OpenBao of its own (e.g. a second `bao server -dev`): like the projector, the bench's
// reconciler removes every ps-ci-* policy it did not render, so on a shared one (the stack's, while
// tests run) it deletes theirs.
//
// PROJECTS (1000), GROUP_SECRETS (10, half unscoped, half production-protected), ROUNDS (5).
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { groupKey } from '@app/domain';
import { DesiredBaoState, renderBaoState, ScopedSecret } from '@app/domain/openbao/policy-renderer';
import { JsonLogger } from '@app/infra/logging/logger';
import { PolicyReconciler, ReconcileMode } from '@app/infra/openbao/policy-reconciler';
import { OpenBaoPolicyTarget } from '@app/infra/openbao/policy-target';
import { SqlClient } from '@app/infra/sql/sql-client';

const PROJECTS = Number(process.env.PROJECTS ?? 1000);
const GROUP_SECRETS = Number(process.env.GROUP_SECRETS ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const run = randomUUID().slice(0, 8);
const TOP = `acme-${run}`;
const G = `${TOP}/payments`;
const opts = { kvMount: 'secret', kvPrefix: `ps-bench-${run}`, audience: 'pipeline-secrets', tokenTtlSeconds: 300 };
const unscoped = { environment: null, branch: null, protectedOnly: false };
const prodOnly = { environment: 'production', branch: null, protectedOnly: true };

const projects = Array.from({ length: PROJECTS }, (_, i) => `bench-${run}-${String(i).padStart(4, '0')}`);
// a third of them one level further down (acme/payments/team-N), the rest directly in acme/payments
const membership = new Map(projects.map((p, i) => [p, i % 3 === 0 ? `${G}/team-${i % 7}` : G] as [string, string]));
const secrets: ScopedSecret[] = [
  ...Array.from({ length: GROUP_SECRETS }, (_, i): ScopedSecret => ({ projectId: groupKey(G), name: `GROUP_${i}`, scope: i % 2 ? prodOnly : unscoped })),
  { projectId: groupKey(TOP), name: 'ORG_TOKEN', scope: unscoped },
  // every project has one secret of its own, unscoped (its role exists anyway)
  ...projects.map((p): ScopedSecret => ({ projectId: p, name: 'OWN', scope: unscoped })),
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time<T>(f: () => T): { ms: number; out: T } {
  const t0 = performance.now();
  const out = f();
  return { ms: performance.now() - t0, out };
}
const bytes = (s: DesiredBaoState) => [...s.policies.values()].reduce((n, h) => n + Buffer.byteLength(h), 0) + [...s.roles.values()].reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r)), 0);
const changed = (a: DesiredBaoState, b: DesiredBaoState) =>
  [...new Set([...a.policies.keys(), ...b.policies.keys()])].filter((k) => a.policies.get(k) !== b.policies.get(k)).length +
  [...new Set([...a.roles.keys(), ...b.roles.keys()])].filter((k) => JSON.stringify(a.roles.get(k)) !== JSON.stringify(b.roles.get(k))).length;

async function main(): Promise<void> {
  const renders: number[] = [];
  let state!: DesiredBaoState;
  for (let i = 0; i < ROUNDS + 1; i++) {
    const r = time(() => renderBaoState(secrets, opts, membership));
    if (i > 0) renders.push(r.ms); // the first warms the JIT
    state = r.out;
  }
  const movedMembership = new Map([...membership, [projects[1], `${TOP}-elsewhere`]]);
  const moved = renderBaoState(secrets, opts, movedMembership);
  // after the move: a new unscoped group secret, in the unscoped policy of each of the 999 projects still below the group
  const added = renderBaoState([...secrets, { projectId: groupKey(G), name: 'NEW_ONE', scope: unscoped }], opts, movedMembership);
  console.log(
    JSON.stringify({
      projects: PROJECTS,
      groupSecrets: GROUP_SECRETS + 1,
      roles: state.roles.size,
      policies: state.policies.size,
      renderedBytes: bytes(state),
      renderMsMedian: Math.round(median(renders) * 10) / 10,
      renderMsAll: renders.map((m) => Math.round(m)),
      objectsChangedByAMove: changed(state, moved),
      objectsChangedByANewGroupSecret: changed(moved, added),
    }),
  );

  const { BAO_ADDR, BAO_TOKEN } = process.env;
  if (!BAO_ADDR || !BAO_TOKEN) return;
  // Against OpenBao: the reconciler's own diffing (read every desired object, write what differs, delete the rest).
  const target = new OpenBaoPolicyTarget({ addr: BAO_ADDR, token: BAO_TOKEN, jwtMount: `jwt-bench-${run}`, issuer: 'https://bench.invalid', publicKeysPem: [generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()] });
  let desired = state;
  const reconciler = new (class extends PolicyReconciler {
    override async desired() {
      return desired;
    }
  })(target, undefined as unknown as SqlClient, opts, new JsonLogger('error'));
  const step = async (what: string, next: DesiredBaoState, mode: ReconcileMode) => {
    desired = next;
    const t0 = performance.now();
    const r = await reconciler.reconcileOnce(mode);
    console.log(JSON.stringify({ step: what, mode, ms: Math.round(performance.now() - t0), written: r.written.length, removed: r.removed.length }));
  };
  try {
    await step('first apply (every role and policy written)', state, 'full');
    await step('nothing to do (reads every object back)', state, 'full');
    await step('one project moved out of the group (after its projection batch)', moved, 'changes');
    await step('the same move as a full run would find it', state, 'full');
    await step('one project moved out of the group, full run', moved, 'full');
    await step('one group secret added (its path in every project policy of its scope)', added, 'changes');
  } finally {
    await step('cleanup (everything removed)', { policies: new Map(), roles: new Map() }, 'full');
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
