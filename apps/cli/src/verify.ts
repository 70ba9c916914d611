import { createPublicKey, KeyObject } from 'node:crypto';
import {
  canonicalJson,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPE,
  leafHash,
  openNote,
  parseCheckpoint,
  rootFromLeafHashes,
  SECRET_ACCESS_PREDICATE_TYPE,
  verifyConsistency,
  verifyDsse,
  verifyInclusion,
} from '@app/domain/audit-log';
import { EXPOSURE_REPORT_PAYLOAD_TYPE } from '@app/domain/exposure/exposure-request';

// Offline verification of what the audit endpoints and the Kafka checkpoint topic hand out.
// Every function returns a verdict and never trusts a hash the server computed: leaf hashes are
// recomputed from the record bytes, roots from proofs, and checkpoints from their signatures.

export class VerificationError extends Error {}

export interface Verdict {
  ok: true;
  checks: string[];
}

export function publicKeyFrom(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new VerificationError('the public key is not Ed25519');
  return key;
}

/**
 * A signed checkpoint: the signature by `keyName` (default: the expected origin, else the note's
 * own) must verify, and with `origin` given the note must be of that log — a key shared by two
 * logs (say staging and production) cannot pass one log's checkpoint off as the other's.
 */
export function verifyCheckpoint(note: string, publicKey: KeyObject, keyName?: string, origin?: string) {
  const noteOrigin = note.split('\n', 1)[0];
  if (origin !== undefined && noteOrigin !== origin) throw new VerificationError(`checkpoint is of log "${noteOrigin}", not "${origin}"`);
  let text: string;
  try {
    text = openNote(note, [{ name: keyName ?? origin ?? noteOrigin, publicKey }]).text;
  } catch (e) {
    throw new VerificationError(`checkpoint signature does not verify: ${(e as Error).message}`);
  }
  return parseCheckpoint(text);
}

export interface VerifyOptions {
  /** Signer name, when it differs from the origin. */
  keyName?: string;
  /** The log the checkpoint must be of. */
  origin?: string;
}

const fromB64 = (s: unknown, what: string): Buffer => {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new VerificationError(`${what} is not base64`);
  return Buffer.from(s, 'base64');
};

/** A record as served by GET /v1/audit/records/{index}, against a signed checkpoint of the same tree size. */
export function verifyRecordInclusion(served: unknown, note: string, publicKey: KeyObject, opts: VerifyOptions = {}): Verdict {
  const r = served as { index?: unknown; record?: unknown; treeSize?: unknown; inclusionProof?: unknown };
  if (typeof r?.index !== 'number' || typeof r.treeSize !== 'number' || !Array.isArray(r.inclusionProof) || typeof r.record !== 'object' || r.record === null) {
    throw new VerificationError('record file must be the JSON of GET /v1/audit/records/{index}');
  }
  const cp = verifyCheckpoint(note, publicKey, opts.keyName, opts.origin);
  if (cp.treeSize !== r.treeSize) throw new VerificationError(`the proof is for tree size ${r.treeSize} but the checkpoint signs size ${cp.treeSize}`);
  const leaf = leafHash(Buffer.from(canonicalJson(r.record), 'utf8'));
  const proof = r.inclusionProof.map((p, i) => fromB64(p, `inclusionProof[${i}]`));
  if (!verifyInclusion(r.index, cp.treeSize, leaf, proof, cp.rootHash)) throw new VerificationError(`record ${r.index} is NOT included in the checkpointed tree of size ${cp.treeSize}`);
  return { ok: true, checks: [`checkpoint of ${cp.origin} signed by ${opts.keyName ?? cp.origin}`, `record ${r.index} included in tree of size ${cp.treeSize}`] };
}

/** Two signed checkpoints and GET /v1/audit/consistency?from=&to=: the newer tree extends the older. */
export function verifyCheckpointConsistency(oldNote: string, newNote: string, served: unknown, publicKey: KeyObject, opts: VerifyOptions = {}): Verdict {
  const a = verifyCheckpoint(oldNote, publicKey, opts.keyName, opts.origin);
  const b = verifyCheckpoint(newNote, publicKey, opts.keyName, opts.origin);
  if (a.origin !== b.origin) throw new VerificationError('the checkpoints are of different logs');
  const c = served as { from?: unknown; to?: unknown; proof?: unknown };
  if (c?.from !== a.treeSize || c?.to !== b.treeSize || !Array.isArray(c.proof)) throw new VerificationError(`proof file must be GET /v1/audit/consistency?from=${a.treeSize}&to=${b.treeSize}`);
  const proof = c.proof.map((p, i) => fromB64(p, `proof[${i}]`));
  if (!verifyConsistency(a.treeSize, b.treeSize, proof, a.rootHash, b.rootHash)) throw new VerificationError(`tree ${b.treeSize} is NOT consistent with tree ${a.treeSize}: history was rewritten`);
  return { ok: true, checks: [`both checkpoints signed`, `tree ${b.treeSize} extends tree ${a.treeSize}`] };
}

/**
 * A whole log (rows in index order, e.g. from the database or an export) against a signed
 * checkpoint: indices must run 0,1,2,… with no gap or repeat, and the root recomputed from the
 * record bytes of the first treeSize rows must equal the signed root. Any altered, dropped,
 * inserted or reordered row changes that root.
 */
export function verifyLog(rows: { index: number; record: string }[], note: string, publicKey: KeyObject, opts: VerifyOptions = {}): Verdict {
  const cp = verifyCheckpoint(note, publicKey, opts.keyName, opts.origin);
  if (rows.length < cp.treeSize) throw new VerificationError(`the log holds ${rows.length} records but the checkpoint signs ${cp.treeSize}: records are missing`);
  const leaves: Buffer[] = [];
  for (let i = 0; i < cp.treeSize; i++) {
    if (rows[i].index !== i) throw new VerificationError(`expected record ${i} at position ${i}, found ${rows[i].index}: a record is missing or out of order`);
    leaves.push(leafHash(Buffer.from(rows[i].record, 'utf8')));
  }
  if (!rootFromLeafHashes(leaves).equals(cp.rootHash)) throw new VerificationError(`the root of records 0..${cp.treeSize - 1} differs from the signed root: the log was altered`);
  return { ok: true, checks: [`checkpoint of ${cp.origin} signed by ${opts.keyName ?? cp.origin}`, `records 0..${cp.treeSize - 1} reproduce the signed root`, `${rows.length - cp.treeSize} later record(s) not covered by this checkpoint`] };
}

function requesterName(by: { type?: unknown; id?: unknown; projectId?: unknown; pipelineId?: unknown } | undefined): string {
  if (!by || typeof by.id !== 'string') return 'an unnamed requester';
  if (by.type === 'ci-job') return `ci-job ${JSON.stringify(by.id)} of project ${JSON.stringify(by.projectId ?? '?')} pipeline ${JSON.stringify(by.pipelineId ?? '?')}`;
  return `${by.type === 'user' ? 'user' : 'requester'} ${JSON.stringify(by.id)}`;
}

/** A DSSE envelope from the evidence endpoint: signature, statement type, predicate, subjects and its checkpoint. */
export function verifyEvidence(
  envelope: unknown,
  publicKey: KeyObject,
  opts: VerifyOptions & { subjectSha256?: string; projectId?: string; pipelineId?: string; allowRequestedByOthers?: boolean } = {},
): Verdict & { statement: Record<string, unknown> } {
  let payload: Buffer;
  try {
    payload = verifyDsse(envelope, publicKey, { payloadType: IN_TOTO_PAYLOAD_TYPE }).payload;
  } catch (e) {
    throw new VerificationError(`evidence signature does not verify: ${(e as Error).message}`);
  }
  const statement = JSON.parse(payload.toString('utf8')) as {
    _type?: string;
    predicateType?: string;
    subject?: { name: string; digest: { sha256: string } }[];
    predicate?: { projectId?: string; pipelineId?: string; requestedBy?: { type?: unknown; id?: unknown; projectId?: unknown; pipelineId?: unknown }; accesses?: { logIndex: number }[]; auditLog?: { checkpoint?: string | null; treeSize?: number | null } };
  };
  if (statement._type !== IN_TOTO_STATEMENT_TYPE) throw new VerificationError(`not an in-toto Statement v1 (_type ${statement._type})`);
  if (statement.predicateType !== SECRET_ACCESS_PREDICATE_TYPE) throw new VerificationError(`unexpected predicateType ${statement.predicateType}`);
  const checks = ['DSSE signature verifies', 'in-toto Statement v1 with the secret-access predicate'];
  if (opts.subjectSha256) {
    const want = opts.subjectSha256.toLowerCase();
    if (!statement.subject?.some((s) => s.digest?.sha256 === want)) throw new VerificationError(`no subject with sha256 ${want}`);
    checks.push(`subject sha256 ${want} is attested`);
  }
  // The service signs evidence for whoever may ask (any job of the pipeline, an auditor): that the
  // statement is about THE pipeline and project the provenance names is the verifier's check.
  if (opts.projectId !== undefined) {
    if (statement.predicate?.projectId !== opts.projectId) throw new VerificationError(`evidence is for project ${statement.predicate?.projectId}, not ${opts.projectId}`);
    checks.push(`project ${opts.projectId}`);
  }
  if (opts.pipelineId !== undefined) {
    if (statement.predicate?.pipelineId !== opts.pipelineId) throw new VerificationError(`evidence is for pipeline ${statement.predicate?.pipelineId}, not ${opts.pipelineId}`);
    checks.push(`pipeline ${opts.pipelineId}`);
  }
  // By default the statement must have been asked for by a job of THE run: an auditor (or a job
  // of another pipeline) with read-audit can ask for evidence too, but that is not the build's own claim.
  const by = statement.predicate?.requestedBy;
  const who = requesterName(by);
  const ownJob =
    by?.type === 'ci-job' &&
    (opts.projectId === undefined || by.projectId === opts.projectId) &&
    (opts.pipelineId === undefined || by.pipelineId === opts.pipelineId) &&
    typeof by.projectId === 'string' &&
    typeof by.pipelineId === 'string';
  if (!ownJob && !opts.allowRequestedByOthers) {
    throw new VerificationError(`evidence was requested by ${who}, not by a CI job of this pipeline (pass --allow-requested-by-others to accept it)`);
  }
  checks.push(`requested by ${who}${ownJob ? ' (a job of this pipeline)' : ' (NOT a job of this pipeline: accepted by --allow-requested-by-others)'}`);
  const log = statement.predicate?.auditLog;
  const accesses = statement.predicate?.accesses ?? [];
  if (log?.checkpoint) {
    const cp = verifyCheckpoint(log.checkpoint, publicKey, opts.keyName, opts.origin);
    const beyond = accesses.filter((a) => a.logIndex >= cp.treeSize);
    if (beyond.length > 0) throw new VerificationError(`access at log index ${beyond[0].logIndex} is not covered by the embedded checkpoint (size ${cp.treeSize})`);
    checks.push(`embedded checkpoint (tree size ${cp.treeSize}) is signed and covers all ${accesses.length} access(es)`);
  } else if (accesses.length > 0) {
    throw new VerificationError('the evidence lists accesses but embeds no checkpoint covering them');
  }
  return { ok: true, checks, statement: statement as Record<string, unknown> };
}

/**
 * A signed exposure report (POST /v1/exposure-reports with Accept: application/vnd.dsse+json):
 * the signature, the payload type, and that the payload is the report's canonical JSON with every
 * part a report has. Returns the report so the caller can read what it says.
 */
export function verifyReport(envelope: unknown, publicKey: KeyObject): Verdict & { report: Record<string, unknown> } {
  let payload: Buffer;
  try {
    payload = verifyDsse(envelope, publicKey, { payloadType: EXPOSURE_REPORT_PAYLOAD_TYPE }).payload;
  } catch (e) {
    throw new VerificationError(`report signature does not verify: ${(e as Error).message}`);
  }
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new VerificationError('the signed payload is not JSON');
  }
  if (canonicalJson(report) !== payload.toString('utf8')) throw new VerificationError('the signed payload is not canonical JSON');
  for (const k of ['subject', 'from', 'to', 'could', 'did', 'rotate', 'notCovered']) {
    if (!(k in report)) throw new VerificationError(`the signed report has no ${k}`);
  }
  return { ok: true, checks: ['DSSE signature verifies', 'exposure report payload type', 'canonical JSON with subject, window, could, did, rotate and notCovered'], report };
}
