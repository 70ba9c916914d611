import { generateKeyPairSync } from 'node:crypto';
import { buildSecretAccessStatement, canonicalJson, EvidenceRequester, IN_TOTO_PAYLOAD_TYPE, signDsse } from '@app/domain/audit-log';
import { verifyEvidence } from './verify';

const key = generateKeyPairSync('ed25519');

function envelope(requestedBy: EvidenceRequester) {
  const statement = buildSecretAccessStatement({
    subjects: [{ name: 'app.tar', digest: { sha256: 'a'.repeat(64) } }],
    projectId: 'acme',
    pipelineId: 'p-1',
    requestedBy,
    accesses: [],
    log: { origin: 'test/audit', checkpoint: null, treeSize: null },
    generatedAt: '2026-01-01T00:00:00.000Z',
  });
  return signDsse(IN_TOTO_PAYLOAD_TYPE, Buffer.from(canonicalJson(statement), 'utf8'), key.privateKey, 'k');
}

const opts = { projectId: 'acme', pipelineId: 'p-1' };
const ownJob: EvidenceRequester = { type: 'ci-job', id: 'job-sub', projectId: 'acme', pipelineId: 'p-1', jobId: 'j1', ref: 'main', refProtected: true };

describe('cli verify evidence: who requested the statement', () => {
  it('accepts a statement a job of the pipeline requested, and names it', () => {
    const v = verifyEvidence(envelope(ownJob), key.publicKey, opts);
    expect(v.checks.some((c) => c.includes('requested by ci-job "job-sub"') && c.includes('a job of this pipeline'))).toBe(true);
  });

  it('refuses by default a statement an auditor requested', () => {
    expect(() => verifyEvidence(envelope({ type: 'user', id: 'mallory' }), key.publicKey, opts)).toThrow(/requested by user "mallory", not by a CI job of this pipeline/);
  });

  it('refuses a job of another pipeline, and a job statement that does not say its pipeline', () => {
    expect(() => verifyEvidence(envelope({ ...ownJob, pipelineId: 'p-2' }), key.publicKey, opts)).toThrow(/not by a CI job of this pipeline/);
    expect(() => verifyEvidence(envelope({ type: 'ci-job', id: 'job-sub', jobId: 'j1' }), key.publicKey, opts)).toThrow(/not by a CI job of this pipeline/);
  });

  it('accepts an auditor-requested statement with --allow-requested-by-others, and says so', () => {
    const v = verifyEvidence(envelope({ type: 'user', id: 'auditor-1' }), key.publicKey, { ...opts, allowRequestedByOthers: true });
    expect(v.checks).toContain('requested by user "auditor-1" (NOT a job of this pipeline: accepted by --allow-requested-by-others)');
  });
});
