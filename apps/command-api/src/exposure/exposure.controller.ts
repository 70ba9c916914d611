import { Body, Controller, Headers, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { EXPOSURE_REPORT_PAYLOAD_TYPE, Principal } from '@app/domain';
import { signDsse } from '@app/domain/audit-log';
import { AuditSigningKey } from '@app/infra/audit/signing-key';
import { AUDIT_SIGNING_KEY } from '@app/infra/nest/tokens';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { ExposureReports } from './exposure-reports';

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
  constructor(
    @Inject(AUDIT_SIGNING_KEY) private readonly key: AuditSigningKey,
    private readonly reports: ExposureReports,
  ) {}

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
    const { report, bytes, reportId } = await this.reports.generate(p, body, commandContext(req, p));
    res.setHeader('Exposure-Report-Id', reportId);
    res.setHeader('Cache-Control', 'no-store');
    if (accept !== undefined && accept.split(',').some((a) => a.trim().split(';')[0].toLowerCase() === DSSE_MEDIA_TYPE)) {
      res.type(DSSE_MEDIA_TYPE);
      return signDsse(EXPOSURE_REPORT_PAYLOAD_TYPE, bytes, this.key.privateKey, this.key.keyId);
    }
    return report;
  }
}
