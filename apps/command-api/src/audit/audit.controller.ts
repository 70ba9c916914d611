import { Controller, Get, Header, Inject, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Principal } from '@app/domain';
import { AuditLogStore, StoredAuditRecord } from '@app/infra/audit/audit-log-store';
import { AuditSigningKey } from '@app/infra/audit/signing-key';
import { AppConfig } from '@app/infra/config/config';
import { AUDIT_LOG, AUDIT_SIGNING_KEY, CONFIG } from '@app/infra/nest/tokens';
import { Public } from '@app/infra/nest/public';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { rejectUnknownParams } from '../http/params';
import { FieldError, PROBLEM_BASE, ProblemException, problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { AuditAccess } from './audit-access';
import { noteKeyId, verifierKey } from '@app/domain/audit-log';

const b64 = (b: Buffer) => b.toString('base64');
const MAX_INDEX = 2 ** 52;

function intParam(query: Record<string, unknown>, field: string, errors: FieldError[], opts: { min: number; required?: boolean }): number | undefined {
  const v = query[field];
  if (v === undefined) {
    if (opts.required) errors.push({ field, message: `${field} is required` });
    return undefined;
  }
  if (typeof v !== 'string' || !/^-?\d{1,16}$/.test(v) || Number(v) < opts.min || Number(v) > MAX_INDEX) {
    errors.push({ field, message: `${field} must be an integer from ${opts.min} to ${MAX_INDEX}` });
    return undefined;
  }
  return Number(v);
}

/** Live streams at once per process: each polls the log, so they are bounded. */
const MAX_STREAMS = 64;
const MAX_STREAMS_PER_PRINCIPAL = 4;
/** A project's records go to at most this many live streams at once (whoever holds them). */
const MAX_STREAMS_PER_PROJECT = 16;
const STREAM_POLL_MS = 500;
/** A revoked grant (or an expired one) ends the stream within this period: one policy check per project, from the cached stream state. */
const STREAM_REAUTHORIZE_MS = 2_000;

const tooManyStreams = (detail: string) =>
  new ProblemException({ type: `${PROBLEM_BASE}too-many-requests`, title: 'Too many requests', status: 429, detail, reason: 'stream-limit' }, { 'Retry-After': '30' });
const HEARTBEAT_MS = 15_000;

/**
 * The tamper-evident audit log for verifiers and SOC tooling: the signing key, signed
 * checkpoints, records with RFC 6962 inclusion proofs, consistency proofs, and a live stream.
 */
@ApiTags('audit')
@ApiProblems()
@Controller('v1/audit')
export class AuditController {
  private streams = 0;
  private readonly streamsBy = new Map<string, number>();
  private readonly streamsOf = new Map<string, number>();

  constructor(
    @Inject(AUDIT_LOG) private readonly log: AuditLogStore,
    @Inject(AUDIT_SIGNING_KEY) private readonly key: AuditSigningKey,
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly access: AccessControl,
    private readonly auditAccess: AuditAccess,
  ) {}

  @Public()
  @Get('public-key')
  @ApiOkResponse({ description: '`{keyId, algorithm, publicKeyPem, origin, noteVerifierKey}`: verifies checkpoints (C2SP signed notes) and evidence (DSSE).' })
  publicKey() {
    return {
      keyId: this.key.keyId,
      algorithm: 'ed25519',
      publicKeyPem: this.key.publicKeyPem,
      origin: this.config.auditLog.origin,
      noteKeyId: noteKeyId(this.config.auditLog.origin, this.key.publicKey).toString('hex'),
      noteVerifierKey: verifierKey(this.config.auditLog.origin, this.key.publicKey),
    };
  }

  @ApiBearerAuth()
  @Get('checkpoints/latest')
  @Header('Content-Type', 'text/plain; charset=utf-8')
  @ApiProduces('text/plain', 'application/problem+json')
  @ApiOkResponse({ description: 'C2SP signed note: origin, tree size, base64 root hash, blank line, signature line(s).' })
  async latestCheckpoint(@Query() query: Record<string, unknown>, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<string> {
    const errors: FieldError[] = [];
    rejectUnknownParams(query, [], errors);
    if (errors.length > 0) throw problems.badRequest('invalid query', errors);
    await this.auditAccess.requireAnyProject(p, commandContext(req, p));
    const c = await this.log.latestCheckpoint();
    if (!c) throw problems.notFound('no checkpoint has been signed yet');
    return c.note;
  }

  @ApiBearerAuth()
  @Get('records/:index')
  @ApiQuery({ name: 'treeSize', required: false, description: 'Prove inclusion in the tree of this size; default the latest signed checkpoint' })
  @ApiOkResponse({ description: '`{index, record, leafHash, inclusionProof, treeSize, checkpoint}`; the leaf is SHA-256(0x00 || RFC 8785 JSON of `record`).' })
  async record(@Param('index') rawIndex: string, @Query() query: Record<string, unknown>, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
    const errors: FieldError[] = [];
    rejectUnknownParams(query, ['treeSize'], errors);
    const index = intParam({ index: rawIndex }, 'index', errors, { min: 0, required: true });
    let treeSize = intParam(query, 'treeSize', errors, { min: 1 });
    if (errors.length > 0) throw problems.badRequest('invalid request', errors);
    // Strangers learn nothing, not even which indices exist, and cannot make other projects log denials.
    await this.auditAccess.requireAnyProject(p, commandContext(req, p));
    const r = await this.log.record(index!);
    if (!r) throw problems.notFound(`no audit record ${index}`);
    await this.access.require(p, 'read-audit', { projectId: r.projectId }, commandContext(req, p));
    let checkpoint: string | null = null;
    if (treeSize === undefined) {
      const c = await this.log.checkpointCovering(index!);
      if (!c) throw problems.notFound(`record ${index} is not covered by a signed checkpoint yet; retry shortly or pass treeSize`);
      treeSize = (await this.log.latestCheckpoint())!.treeSize;
    }
    if (treeSize <= index!) throw problems.badRequest('invalid request', [{ field: 'treeSize', message: 'treeSize must be greater than the index' }]);
    if (treeSize > (await this.log.committedSize())) throw problems.badRequest('invalid request', [{ field: 'treeSize', message: 'treeSize is larger than the log' }]);
    checkpoint = (await this.log.checkpoint(treeSize))?.note ?? null;
    const proof = await this.log.inclusionProof(index!, treeSize);
    return { index: r.index, eventId: r.eventId, record: JSON.parse(r.record), leafHash: b64(r.leafHash), treeSize, inclusionProof: proof.map(b64), checkpoint };
  }

  @ApiBearerAuth()
  @Get('consistency')
  @ApiQuery({ name: 'from', required: true })
  @ApiQuery({ name: 'to', required: true })
  @ApiOkResponse({ description: '`{from, to, proof}`: RFC 6962 consistency proof between two tree sizes.' })
  async consistency(@Query() query: Record<string, unknown>, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
    const errors: FieldError[] = [];
    rejectUnknownParams(query, ['from', 'to'], errors);
    const from = intParam(query, 'from', errors, { min: 1, required: true });
    const to = intParam(query, 'to', errors, { min: 1, required: true });
    if (from !== undefined && to !== undefined && from > to) errors.push({ field: 'to', message: 'to must not be smaller than from' });
    if (errors.length > 0) throw problems.badRequest('invalid query', errors);
    await this.auditAccess.requireAnyProject(p, commandContext(req, p));
    if (to! > (await this.log.committedSize())) throw problems.badRequest('invalid query', [{ field: 'to', message: 'to is larger than the log' }]);
    const proof = await this.log.consistencyProof(from!, to!);
    return { from, to, proof: proof.map(b64) };
  }

  @ApiBearerAuth()
  @Get('stream')
  @ApiProduces('application/x-ndjson', 'text/event-stream')
  @ApiQuery({ name: 'after', required: false, description: 'Log index to resume after (-1 = from the beginning); default: only new records. SSE also honours Last-Event-ID.' })
  @ApiOkResponse({ description: "Live audit records of the caller's projects: NDJSON lines, or server-sent events with `id:` = log index." })
  async stream(@Query() query: Record<string, unknown>, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const errors: FieldError[] = [];
    rejectUnknownParams(query, ['after'], errors);
    const sse = (req.headers.accept ?? '').includes('text/event-stream');
    const lastEventId = sse ? req.header('last-event-id') : undefined;
    let after = lastEventId !== undefined ? intParam({ 'Last-Event-ID': lastEventId }, 'Last-Event-ID', errors, { min: -1 }) : intParam(query, 'after', errors, { min: -1 });
    if (errors.length > 0) throw problems.badRequest('invalid request', errors);
    const ctx = commandContext(req, p);
    const projects = await this.auditAccess.requireAnyProject(p, ctx);
    // One identity (kind and id, so a job and a user of the same name do not share) and one
    // project cannot take the process-wide slots: each has its own bound, answered 429.
    const who = `${p.kind}:${p.id}`;
    const mine = this.streamsBy.get(who) ?? 0;
    if (mine >= MAX_STREAMS_PER_PRINCIPAL) throw tooManyStreams(`at most ${MAX_STREAMS_PER_PRINCIPAL} live audit streams per identity; close one or retry later`);
    const full = projects.find((id) => (this.streamsOf.get(id) ?? 0) >= MAX_STREAMS_PER_PROJECT);
    if (full !== undefined) throw tooManyStreams(`at most ${MAX_STREAMS_PER_PROJECT} live audit streams per project (project ${full}); retry later`);
    if (this.streams >= MAX_STREAMS) throw tooManyStreams(`at most ${MAX_STREAMS} live audit streams per process; retry later`);
    // Counted before any await, released in finally whatever ends the stream.
    this.streams++;
    this.streamsBy.set(who, mine + 1);
    for (const id of projects) this.streamsOf.set(id, (this.streamsOf.get(id) ?? 0) + 1);
    try {
      if (after === undefined) after = (await this.log.committedSize()) - 1;
      await this.pump(res, req, p, sse, after, projects);
    } finally {
      this.streams--;
      const left = (this.streamsBy.get(who) ?? 1) - 1;
      if (left > 0) this.streamsBy.set(who, left);
      else this.streamsBy.delete(who);
      for (const id of projects) {
        const n = (this.streamsOf.get(id) ?? 1) - 1;
        if (n > 0) this.streamsOf.set(id, n);
        else this.streamsOf.delete(id);
      }
    }
  }

  private async pump(res: Response, req: AuthenticatedRequest, p: Principal, sse: boolean, after: number, projects: string[]): Promise<void> {
    res.status(200);
    res.setHeader('Content-Type', sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    let closed = false;
    res.once('close', () => (closed = true));
    // A client that stops reading and then disconnects never drains: 'close' must end the wait too.
    const write = (chunk: string) =>
      res.write(chunk) || closed
        ? Promise.resolve()
        : new Promise<void>((r) => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              r();
            };
            res.on('drain', done);
            res.on('close', done);
          });
    let lastAuth = Date.now();
    let lastWrite = Date.now();
    try {
      while (!closed) {
        // The stream lives no longer than the token that opened it.
        if (req.tokenExpiresAt !== undefined && Date.now() >= req.tokenExpiresAt) break;
        if (Date.now() - lastAuth > STREAM_REAUTHORIZE_MS) {
          // A revoked grant ends the stream within this period.
          // Only projects still granted stay in the stream; none left ends it.
          const still = new Set(await this.auditAccess.auditableProjects(p, commandContext(req, p)));
          projects = projects.filter((id) => still.has(id));
          lastAuth = Date.now();
          if (projects.length === 0) break;
        }
        const batch = await this.log.recordsAfter(after, 200, projects);
        if (batch.length > 0) {
          await write(batch.map((r) => streamLine(r, sse)).join(''));
          after = batch[batch.length - 1].index;
          lastWrite = Date.now();
          continue;
        }
        if (Date.now() - lastWrite > HEARTBEAT_MS) {
          await write(sse ? ': keep-alive\n\n' : '\n');
          lastWrite = Date.now();
        }
        await new Promise((r) => setTimeout(r, STREAM_POLL_MS));
      }
    } catch {
      res.destroy();
      return;
    }
    res.end();
  }
}

function streamLine(r: StoredAuditRecord, sse: boolean): string {
  // the same fields, in the same order, as an audit.jsonl line (FileAuditSink): `key` is the Kafka key
  const body = `{"index":${r.index},"eventId":${JSON.stringify(r.eventId)},"eventType":${JSON.stringify(r.eventType)},"key":${JSON.stringify(r.kafkaKey)},"record":${r.record}}`;
  return sse ? `id: ${r.index}\nevent: audit-record\ndata: ${body}\n\n` : body + '\n';
}
