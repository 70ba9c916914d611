import { Args, Context, Query, Resolver } from '@nestjs/graphql';
import { commandContext } from '../http/request-context';
import { ExposureReports } from '../exposure/exposure-reports';
import { ExposureReportView, ExposureSubjectInput } from './exposure.types';
import { GqlContext, principalOf } from './secrets.resolver';

/** `exposureReport(subject, from, to)`: the REST report (POST /v1/exposure-reports), same checks, same record. */
@Resolver()
export class ExposureResolver {
  constructor(private readonly reports: ExposureReports) {}

  @Query(() => ExposureReportView)
  async exposureReport(
    @Args('subject', { type: () => ExposureSubjectInput }) subject: ExposureSubjectInput,
    @Args('from') from: string,
    @Args('to') to: string,
    @Context() ctx: GqlContext,
  ): Promise<ExposureReportView> {
    const p = principalOf(ctx);
    // Absent fields stay absent (null means "not given" here), so the domain's checks see what REST would.
    const s = Object.fromEntries(Object.entries({ ...subject }).filter(([, v]) => v !== null && v !== undefined));
    const { report, reportId } = await this.reports.generate(p, { subject: s, from, to }, commandContext(ctx.req, p));
    return { reportId, ...report } as ExposureReportView;
  }
}
