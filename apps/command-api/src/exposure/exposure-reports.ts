import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { decideExposureReport, denied, EventStore, ExposureReport, exposureReport, parseExposureRequest, Principal, StreamName } from '@app/domain';
import { canonicalJson } from '@app/domain/audit-log';
import { EVENT_STORE, SQL } from '@app/infra/nest/tokens';
import { ExposureQueries } from '@app/infra/read-models/exposure';
import { SqlClient } from '@app/infra/sql/sql-client';
import { AccessControl } from '../application/access-control';
import { CommandContext, envelope } from '../application/event-envelope';
import { problems } from '../http/problem';

/** A report as answered: its content, the canonical bytes it is signed over, and the id of its record. */
export interface GeneratedReport {
  report: ExposureReport;
  bytes: Buffer;
  reportId: string;
}

/**
 * Exposure reports (issue 22) for REST and GraphQL alike: the request checked by the domain
 * (parseExposureRequest), the data from the read models, the report computed by
 * libs/domain/src/exposure/exposure.ts, named only where the caller has read-audit, and recorded
 * (ExposureReportGenerated) before it is answered.
 */
@Injectable()
export class ExposureReports {
  private readonly queries: ExposureQueries;

  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, @Inject(SQL) sql: SqlClient, private readonly access: AccessControl) {
    this.queries = new ExposureQueries(sql);
  }

  async generate(p: Principal, body: unknown, ctx: CommandContext): Promise<GeneratedReport> {
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
    return { report, bytes, reportId };
  }
}
