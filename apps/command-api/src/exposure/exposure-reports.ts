import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { decideExposureReport, denied, EventStore, EXPOSURE_REPORT_PLACE, ExposureReport, exposureReport, parseExposureRequest, Principal, StreamName, UserPrincipal } from '@app/domain';
import { canonicalJson } from '@app/domain/audit-log';
import { AppConfig } from '@app/infra/config/config';
import { COMPLIANCE_QUERIES, CONFIG, EVENT_STORE, SQL } from '@app/infra/nest/tokens';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { ExposureQueries } from '@app/infra/read-models/exposure';
import { SqlClient } from '@app/infra/sql/sql-client';
import { AccessControl } from '../application/access-control';
import { CommandContext, envelope } from '../application/event-envelope';
import { PROBLEM_BASE, ProblemException, problems } from '../http/problem';

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
/** Places whose read-audit is checked at once (each check reads a few policy streams). */
const CHECK_CONCURRENCY = 8;

@Injectable()
export class ExposureReports {
  private readonly queries: ExposureQueries;
  /** Reports asked per user in the current minute (fixed windows, in this process). */
  private readonly asked = new Map<string, { minute: number; n: number }>();
  /** EXPOSURE_REPORTS_PER_MINUTE: each report scans a window of history (seconds over a million events). */
  private readonly perMinute: number;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SQL) sql: SqlClient,
    @Inject(COMPLIANCE_QUERIES) private readonly compliance: ComplianceQueries,
    @Inject(CONFIG) config: AppConfig,
    private readonly access: AccessControl,
  ) {
    this.queries = new ExposureQueries(sql);
    this.perMinute = config.exposureReportsPerMinute;
  }

  async generate(p: Principal, body: unknown, ctx: CommandContext): Promise<GeneratedReport> {
    if (p.kind !== 'user') {
      // Incident response is a reviewer's question: a CI job's is refused, recorded and rate-limited like every refusal.
      await this.access.recordDenial(denied(p, p.projectId, null, 'read-audit', 'ci-job-action'), ctx);
      throw problems.forbidden('ci-job-action');
    }
    this.spend(p, ctx);
    const request = parseExposureRequest(body);
    if (request.subject.type === 'secret') {
      // A secret's report is about one place: read-audit there, or an audited 403 (the same for a secret that does not exist).
      await this.access.require(p, 'read-audit', { projectId: request.subject.placeKey }, ctx);
    } else if (!(await this.auditsSomewhere(p, ctx))) {
      // Who could read what, even as a count (notCovered), is not for someone who reviews nothing:
      // without read-audit on any place, an audited 403, before anything about the subject is read.
      await this.access.recordDenial(denied(p, EXPOSURE_REPORT_PLACE, null, 'read-audit', 'no-grant'), ctx);
      throw problems.forbidden('no-grant');
    }
    const data = await this.queries.load(request.subject, request.from, request.to);
    const places = [...new Set([...data.grants, ...data.versions, ...data.readVersions].map((x) => x.placeKey))].sort();
    const covered = new Set<string>();
    for (let i = 0; i < places.length; i += CHECK_CONCURRENCY) {
      const slice = places.slice(i, i + CHECK_CONCURRENCY);
      const allowed = await Promise.all(slice.map(async (key) => (await this.access.check(p, 'read-audit', { projectId: key }, ctx)).allowed));
      slice.forEach((key, j) => allowed[j] && covered.add(key));
    }
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

  /** read-audit in force on some place: candidates from the projected grants, each confirmed on its effective policy. */
  private async auditsSomewhere(p: UserPrincipal, ctx: CommandContext): Promise<boolean> {
    const candidates = await this.compliance.projectsWithRole({ id: p.id, groups: p.groups }, ['owner', 'auditor'], ctx.now, 50);
    for (const key of candidates) if ((await this.access.check(p, 'read-audit', { projectId: key }, ctx)).allowed) return true;
    return false;
  }

  /** At most EXPOSURE_REPORTS_PER_MINUTE (default 10) per user: past it, 429 with Retry-After (nothing is read or recorded). */
  private spend(p: UserPrincipal, ctx: CommandContext): void {
    const now = Date.parse(ctx.now) || Date.now();
    const minute = Math.floor(now / 60_000);
    const had = this.asked.get(p.id);
    const n = had && had.minute === minute ? had.n + 1 : 1;
    if (this.asked.size > 10_000) this.asked.clear();
    this.asked.set(p.id, { minute, n });
    if (n > this.perMinute) {
      throw new ProblemException(
        { type: `${PROBLEM_BASE}too-many-requests`, title: 'Too many requests', status: 429, detail: `at most ${this.perMinute} exposure reports a minute; retry later`, reason: 'exposure-report-rate' },
        { 'Retry-After': String(60 - Math.floor((now % 60_000) / 1000)) },
      );
    }
  }
}
