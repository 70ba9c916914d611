import { Body, Controller, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { placeOf, Principal, PROJECT_ID_PATTERN } from '@app/domain';
import {
  buildSecretAccessStatement,
  canonicalJson,
  DsseEnvelope,
  IN_TOTO_PAYLOAD_TYPE,
  SecretAccessEntry,
  signDsse,
  validateSubjects,
} from '@app/domain/audit-log';
import { AuditLogStore, StoredAuditRecord } from '@app/infra/audit/audit-log-store';
import { AuditSigningKey } from '@app/infra/audit/signing-key';
import { AppConfig } from '@app/infra/config/config';
import { AUDIT_LOG, AUDIT_SIGNING_KEY, CONFIG } from '@app/infra/nest/tokens';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { patternPipe, PIPELINE_ID_PATTERN, ProjectIdPipe } from '../http/params';
import { problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';

export const PipelineIdPipe = patternPipe('pipelineId', PIPELINE_ID_PATTERN);
/** More decisions than this in one pipeline is not a build; refuse rather than sign a partial list. */
const MAX_ACCESSES = 10_000;

/** The access decision an audit record (OCSF API Activity) states, for the evidence predicate. */
export function accessEntryOf(r: StoredAuditRecord): SecretAccessEntry {
  const rec = JSON.parse(r.record) as {
    time: number;
    status_id: number;
    status_detail?: string;
    actor?: { user?: { uid?: string } };
    resources?: { name?: string; version?: string }[];
    unmapped?: { ci?: { job_id?: string } };
  };
  const version = rec.resources?.[0]?.version;
  // The secret's place is the record's place key (the log's project_id column): the pipeline's
  // project, or a group whose secret its job read down the tree.
  const place = placeOf(r.projectId);
  return {
    secret: r.secretName ?? rec.resources?.[0]?.name ?? '',
    version: version !== undefined && /^\d+$/.test(version) ? Number(version) : null,
    job: rec.unmapped?.ci?.job_id ?? null,
    principal: rec.actor?.user?.uid ?? '',
    time: new Date(rec.time).toISOString(),
    decision: rec.status_id === 1 ? 'allowed' : 'denied',
    reason: rec.status_id === 1 ? null : (rec.status_detail ?? null),
    logIndex: r.index,
    eventId: r.eventId,
    ...(place ? { source: { type: place.type, id: place.id } } : {}),
  };
}

/**
 * SLSA-adjacent evidence: a DSSE envelope (Ed25519, PAE) around an in-toto Statement v1 whose
 * predicate lists every secret access decision the audit log holds for the pipeline, each with
 * its log index, and the signed checkpoint that includes them all.
 */
@ApiTags('audit')
@ApiBearerAuth()
@ApiProblems()
@ApiParam({ name: 'projectId', schema: { type: 'string', pattern: PROJECT_ID_PATTERN.source } })
@ApiParam({ name: 'pipelineId', schema: { type: 'string', pattern: PIPELINE_ID_PATTERN.source } })
@Controller('v1/projects/:projectId/pipelines/:pipelineId')
export class EvidenceController {
  constructor(
    @Inject(AUDIT_LOG) private readonly log: AuditLogStore,
    @Inject(AUDIT_SIGNING_KEY) private readonly key: AuditSigningKey,
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly access: AccessControl,
  ) {}

  @Post('evidence')
  @HttpCode(200)
  @ApiBody({ schema: { type: 'object', required: ['subjects'], properties: { subjects: { type: 'array', maxItems: 256, items: { type: 'object', required: ['name', 'digest'], properties: { name: { type: 'string' }, digest: { type: 'object', properties: { sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } } } } } } } } })
  @ApiOkResponse({ description: "DSSE envelope `{payloadType, payload, signatures:[{keyid, sig}]}` around an in-toto Statement v1 (predicate type in docs/audit.md). Every access names its secret's `source` ({type: 'project'|'group', id}): the pipeline's jobs read their groups' secrets down the tree, and those decisions are listed too." })
  async evidence(
    @Param('projectId', ProjectIdPipe) projectId: string,
    @Param('pipelineId', PipelineIdPipe) pipelineId: string,
    @Body() body: unknown,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
  ): Promise<DsseEnvelope> {
    const subjects = parseSubjects(body);
    const ctx = commandContext(req, p);
    // The pipeline's own jobs may attest their build; anyone else needs read-audit on the project.
    const ownPipeline = p.kind === 'ci-job' && p.projectId === projectId && p.pipelineId === pipelineId;
    if (!ownPipeline) await this.access.require(p, 'read-audit', { projectId }, ctx);

    const records = (await this.log.pipelineRecords(projectId, pipelineId, MAX_ACCESSES + 1)).filter((r) => r.eventType === 'SecretAccessed' || r.eventType === 'SecretAccessDenied');
    if (records.length > MAX_ACCESSES) throw problems.badRequest('too many access decisions', [{ field: 'pipelineId', message: `the pipeline has more than ${MAX_ACCESSES} access decisions` }]);
    const accesses = records.map(accessEntryOf);
    const last = records.length > 0 ? records[records.length - 1].index : -1;
    const checkpoint = await this.checkpointCovering(last);
    const statement = buildSecretAccessStatement({
      subjects,
      projectId,
      pipelineId,
      requestedBy: p.kind === 'ci-job' ? { type: 'ci-job', id: p.id, projectId: p.projectId, pipelineId: p.pipelineId, jobId: p.jobId, ref: p.ref, refProtected: p.refProtected } : { type: 'user', id: p.id },
      accesses,
      log: { origin: this.config.auditLog.origin, keyId: this.key.keyId, checkpoint: checkpoint?.note ?? null, treeSize: checkpoint?.treeSize ?? null },
      generatedAt: ctx.now,
    });
    return signDsse(IN_TOTO_PAYLOAD_TYPE, Buffer.from(canonicalJson(statement), 'utf8'), this.key.privateKey, this.key.keyId);
  }

  /**
   * The latest signed checkpoint, once it includes log index `last`. Only the auditor signs
   * checkpoints (one signer, every checkpoint relayed); it signs within AUDIT_CHECKPOINT_SECONDS
   * of the log growing, so this waits at most that long, then answers 503.
   */
  private async checkpointCovering(last: number) {
    const until = Date.now() + (this.config.auditLog.checkpointSeconds + 3) * 1000;
    for (;;) {
      const c = await this.log.latestCheckpoint();
      if (last < 0 || (c && c.treeSize > last)) return c;
      if (Date.now() > until) throw problems.unavailable('the audit log has not yet signed a checkpoint covering this pipeline; retry shortly');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function parseSubjects(body: unknown): ReturnType<typeof validateSubjects> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw problems.badRequest('invalid evidence request', [{ field: 'body', message: 'body must be a JSON object {subjects: [...]}' }]);
  const extra = Object.keys(body).filter((k) => k !== 'subjects');
  if (extra.length > 0) throw problems.badRequest('invalid evidence request', extra.map((k) => ({ field: k, message: 'unknown field; allowed: subjects' })));
  try {
    return validateSubjects((body as { subjects?: unknown }).subjects);
  } catch (e) {
    const m = /^([^:]+): (.*)$/.exec((e as Error).message);
    throw problems.badRequest('invalid evidence request', [{ field: m ? m[1] : 'subjects', message: m ? m[2] : 'invalid subjects' }]);
  }
}
