// Who is asking: a person (admin tooling, reviewer) or a CI job, from verified token claims.

export interface UserPrincipal {
  kind: 'user';
  id: string;
  groups: string[];
  /** Platform administrator: may bootstrap the first owner of a project with none, nothing more. */
  admin: boolean;
}

export interface CiJobPrincipal {
  kind: 'ci-job';
  /** The token's `sub`. */
  id: string;
  projectId: string;
  ref: string;
  refType: 'branch' | 'tag';
  refProtected: boolean;
  environment?: string;
  pipelineId: string;
  jobId: string;
  /** Who triggered the pipeline. */
  userId?: string;
}

export type Principal = UserPrincipal | CiJobPrincipal;

/** The principal as recorded in events: enough to attribute, nothing more (no group list). */
export interface PrincipalRecord {
  type: 'user' | 'ci-job';
  id: string;
  pipelineId?: string;
  jobId?: string;
  ref?: string;
  refProtected?: boolean;
  environment?: string;
  triggeredBy?: string;
}

export function principalRecord(p: Principal): PrincipalRecord {
  if (p.kind === 'user') return { type: 'user', id: p.id };
  const r: PrincipalRecord = {
    type: 'ci-job',
    id: p.id,
    pipelineId: p.pipelineId,
    jobId: p.jobId,
    ref: p.ref,
    refProtected: p.refProtected,
  };
  if (p.environment !== undefined) r.environment = p.environment;
  if (p.userId !== undefined) r.triggeredBy = p.userId;
  return r;
}
