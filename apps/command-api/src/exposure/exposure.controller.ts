import { createHash, randomUUID } from 'node:crypto';
import { Body, Controller, Headers, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { decideExposureReport, denied, EXPOSURE_REPORT_PAYLOAD_TYPE, EventStore, exposureReport, parseExposureRequest, Principal, StreamName } from '@app/domain';
import { canonicalJson, signDsse } from '@app/domain/audit-log';
import { AuditSigningKey } from '@app/infra/audit/signing-key';
import { AUDIT_SIGNING_KEY, EVENT_STORE, SQL } from '@app/infra/nest/tokens';
import { ExposureQueries } from '@app/infra/read-models/exposure';
import { SqlClient } from '@app/infra/sql/sql-client';
import { AccessControl } from '../application/access-control';
import { envelope } from '../application/event-envelope';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';

const DSSE_MEDIA_TYPE = 'application/vnd.dsse+json';

/**
 * `POST /v1/exposure-reports` (API.md "Exposure reports", issue 22): what a subject could read in
 * a window, what it read, what to rotate; built by libs/domain/src/exposure/exposure.ts from the
 * read models, named only where the caller has read-audit, recorded before it is answered.
 */
@ApiTags('compliance')
@ApiBearerAuth()
@ApiProduces('application/json', DSSE_MEDIA_TYPE, 'application/problem+json')
@ApiProblems()
@Controller('v1/exposure-reports')
export class ExposureReportsController {
  private readonly queries: ExposureQueries;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SQL) sql: SqlClient,
    @Inject(AUDIT_SIGNING_KEY) private readonly key: AuditSigningKey,
    private readonly access: AccessControl,
  ) {
    this.queries = new ExposureQueries(sql);
  }

  @Post()
  @HttpCode(200)
  @ApiBody({
    schema: {
      type: 'object',
      required: ['subject', 'from', 'to'],
      properties: {
        subject: {
          description: '{type: "user", id} | {type: "group", id} (a user group claim) | {type: "ci-job", projectId, ref?, pipelineId?} | {type: "secret", projectId | groupId, name, version?}',
          type: 'object',
        },
        from: { type: 'string', format: 'date-time' },
        to: { type: 'string', format: 'date-time', description: 'After from; to - from at most 366 days. The window is [from, to).' },
      },
    },
  })
  @ApiOkResponse({
    description:
      'The report: `could` (secret versions readable at some instant of the window, with the grants or CI rule behind each and the sub-intervals), `did` (allowed reads in the window, both channels; at most 10,000 listed, `didTotal` exact), `rotate` (current versions readable or read, read first), `notCovered` (places where the subject was exposed but the caller lacks read-audit: a count). Deterministic for a closed window. With `Accept: application/vnd.dsse+json`: a DSSE envelope (the audit key, `GET /v1/audit/public-key`) around its canonical JSON; `cli verify report` checks it offline. Header `Exposure-Report-Id` names the recorded ExposureReportGenerated.',
  })
  async create(@Body() body: unknown, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest, @Headers('accept') accept: string | undefined, @Res({ passthrough: true }) res: Response): Promise<unknown> {
    const ctx = commandContext(req, p);
    if (p.kind !== 'user') {
      // Incident response is a reviewer's question: a CI job's is refused, recorded and rate-limited like every refusal.
      await this.access.recordDenial(denied(p, p.projectId, null, 'read-audit', 'ci-job-action'), ctx);
      throw problems.forbidden('ci-job-action');
    }
    const request = parseExposureRequest(body);
    // A secret's report is about one place: read-audit there, or an audited 403 (the same for a secret that does not exist).
    if (request.subject.type === 'secret') await this.access.require(p, 'read-audit', { projectId: request.subject.placeKey }, ctx);
    const data = await this.queries.load(request.subject, request.from, request.to);
    const places = new Set([...data.grants, ...data.versions, ...data.readVersions].map((x) => x.placeKey));
    const covered = new Set<string>();
    for (const key of [...places].sort()) if ((await this.access.check(p, 'read-audit', { projectId: key }, ctx)).allowed) covered.add(key);
    const report = exposureReport({ ...request, ...data, covered: (k) => covered.has(k) });
    const bytes = Buffer.from(canonicalJson(report), 'utf8');
    const reportId = randomUUID();
    // Recorded before it is answered: if the record cannot be written, no report leaves (503).
    const event = decideExposureReport({
      type: 'RecordExposureReport',
      data: {
        reportId,
        subject: report.subject,
        from: report.from,
        to: report.to,
        coveredPlaces: new Set([...report.could.map((c) => `${c.place.type}:${c.place.id}`), ...report.did.map((d) => `${d.place.type}:${d.place.id}`)]).size,
        notCovered: report.notCovered,
        reportSha256: createHash('sha256').update(bytes).digest('hex'),
      },
      metadata: { now: ctx.now, actor: ctx.actor },
    });
    await this.store.appendToStream(StreamName.exposureReport(reportId), 'no-stream', [envelope(event, ctx)]);
    res.setHeader('Exposure-Report-Id', reportId);
    res.setHeader('Cache-Control', 'no-store');
    if (accept !== undefined && accept.split(',').some((a) => a.trim().split(';')[0].toLowerCase() === DSSE_MEDIA_TYPE)) {
      res.type(DSSE_MEDIA_TYPE);
      return signDsse(EXPOSURE_REPORT_PAYLOAD_TYPE, bytes, this.key.privateKey, this.key.keyId);
    }
    return report;
  }
}
