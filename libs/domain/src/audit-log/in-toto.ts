// in-toto Statement v1 (https://github.com/in-toto/attestation, spec/v1/statement.md) carrying
// which pipeline secrets were accessed — names, versions and decisions only, never values.
import { isWellFormedText } from '../invariants';

export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const SECRET_ACCESS_PREDICATE_TYPE = 'https://pipeline-secrets-audit.dev/attestation/secret-access/v1';

const MAX_SUBJECTS = 256;
const MAX_SUBJECT_NAME = 1024;

export interface EvidenceSubject {
  name: string;
  digest: { sha256: string };
}

export interface SecretAccessEntry {
  secret: string;
  version: number | null;
  job: string | null;
  principal: string;
  time: string;
  decision: 'allowed' | 'denied';
  reason: string | null;
  logIndex: number;
  eventId: string;
  /**
   * Where the secret lives (issue 20): the pipeline's own project, or a group above it whose secret
   * its job read down the tree. Absent only for a record whose place the service cannot name.
   */
  source?: SecretSource;
}

export interface SecretSource {
  type: 'project' | 'group';
  id: string;
}

/** Who asked for the statement: a verifier should accept only what the pipeline's own (protected) jobs attested. */
export interface EvidenceRequester {
  type: 'user' | 'ci-job';
  id: string;
  jobId?: string;
  /** A CI job's own project and pipeline: a verifier checks they are the run it verifies. */
  projectId?: string;
  pipelineId?: string;
  ref?: string;
  refProtected?: boolean;
}

export interface SecretAccessStatementInput {
  subjects: EvidenceSubject[];
  projectId: string;
  pipelineId: string;
  requestedBy: EvidenceRequester;
  accesses: SecretAccessEntry[];
  log: {
    origin: string;
    keyId?: string;
    /** Signed checkpoint note covering every logIndex, or null when nothing is checkpointed yet. */
    checkpoint: string | null;
    treeSize: number | null;
  };
  generatedAt: string;
}

export interface SecretAccessStatement {
  _type: typeof IN_TOTO_STATEMENT_TYPE;
  subject: EvidenceSubject[];
  predicateType: typeof SECRET_ACCESS_PREDICATE_TYPE;
  predicate: {
    projectId: string;
    pipelineId: string;
    requestedBy: EvidenceRequester;
    generatedAt: string;
    accesses: SecretAccessEntry[];
    auditLog: { origin: string; keyId?: string; treeSize: number | null; checkpoint: string | null };
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Validates caller-supplied subjects; errors name the offending field path for API responses. */
export function validateSubjects(subjects: unknown): EvidenceSubject[] {
  if (!Array.isArray(subjects)) throw new RangeError('subjects: must be an array');
  if (subjects.length < 1 || subjects.length > MAX_SUBJECTS) {
    throw new RangeError(`subjects: must contain 1..${MAX_SUBJECTS} entries`);
  }
  return subjects.map((s: unknown, i) => {
    const at = `subjects[${i}]`;
    if (!isRecord(s)) throw new RangeError(`${at}: must be an object`);
    const { name, digest } = s;
    if (typeof name !== 'string' || name.length < 1 || name.length > MAX_SUBJECT_NAME) {
      throw new RangeError(`${at}.name: must be a string of 1..${MAX_SUBJECT_NAME} characters`);
    }
    if (CONTROL.test(name)) throw new RangeError(`${at}.name: must not contain control characters`);
    if (!isWellFormedText(name)) throw new RangeError(`${at}.name: must be well-formed Unicode (no lone surrogates)`);
    if (!isRecord(digest)) throw new RangeError(`${at}.digest: must be an object`);
    const sha = digest.sha256;
    if (typeof sha !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha)) {
      throw new RangeError(`${at}.digest.sha256: must be 64 hex characters`);
    }
    // Copy only known fields so nothing unexpected rides along into the signed statement.
    return { name, digest: { sha256: sha.toLowerCase() } };
  });
}

function copyRequester(r: EvidenceRequester): EvidenceRequester {
  const out: EvidenceRequester = { type: r.type, id: r.id };
  if (r.jobId !== undefined) out.jobId = r.jobId;
  if (r.projectId !== undefined) out.projectId = r.projectId;
  if (r.pipelineId !== undefined) out.pipelineId = r.pipelineId;
  if (r.ref !== undefined) out.ref = r.ref;
  if (r.refProtected !== undefined) out.refProtected = r.refProtected;
  return out;
}

function copyAccess(a: SecretAccessEntry): SecretAccessEntry {
  // Explicit field list: the statement must never pick up extra (possibly sensitive) properties.
  return {
    secret: a.secret,
    version: a.version,
    job: a.job,
    principal: a.principal,
    time: a.time,
    decision: a.decision,
    reason: a.reason,
    logIndex: a.logIndex,
    eventId: a.eventId,
    ...(a.source && (a.source.type === 'project' || a.source.type === 'group') && typeof a.source.id === 'string' ? { source: { type: a.source.type, id: a.source.id } } : {}),
  };
}

export function buildSecretAccessStatement(input: SecretAccessStatementInput): SecretAccessStatement {
  const subject = validateSubjects(input.subjects);
  const { log } = input;
  if ((log.checkpoint === null) !== (log.treeSize === null)) {
    throw new RangeError('log: checkpoint and treeSize must both be set or both be null');
  }
  const accesses = input.accesses.map(copyAccess).sort((a, b) => a.logIndex - b.logIndex || cmp(a.eventId, b.eventId));
  for (const [i, a] of accesses.entries()) {
    if (!Number.isSafeInteger(a.logIndex) || a.logIndex < 0) throw new RangeError(`accesses: bad logIndex ${a.logIndex}`);
    if (i > 0 && accesses[i - 1].logIndex === a.logIndex) throw new RangeError(`accesses: duplicate logIndex ${a.logIndex}`);
    // A checkpoint that does not cover an entry cannot be used to prove that entry's inclusion.
    if (log.treeSize !== null && a.logIndex >= log.treeSize) {
      throw new RangeError(`accesses: logIndex ${a.logIndex} is not covered by tree size ${log.treeSize}`);
    }
  }
  const auditLog: SecretAccessStatement['predicate']['auditLog'] = { origin: log.origin, treeSize: log.treeSize, checkpoint: log.checkpoint };
  if (log.keyId !== undefined) auditLog.keyId = log.keyId;
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject,
    predicateType: SECRET_ACCESS_PREDICATE_TYPE,
    predicate: {
      projectId: input.projectId,
      pipelineId: input.pipelineId,
      requestedBy: copyRequester(input.requestedBy),
      generatedAt: input.generatedAt,
      accesses,
      auditLog,
    },
  };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
