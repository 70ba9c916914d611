import { Inject, Injectable } from '@nestjs/common';
import { Principal, ROLE_ACTIONS, ROLES } from '@app/domain';
import { COMPLIANCE_QUERIES } from '@app/infra/nest/tokens';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { problems } from '../http/problem';

const AUDIT_ROLES = ROLES.filter((r) => ROLE_ACTIONS[r].includes('read-audit'));

/**
 * Who may read the audit log outside one project's URL: users holding read-audit somewhere.
 * Candidate projects come from the projected grants; each is confirmed against the
 * event-sourced policy (the read model may lag a revocation; the policy does not).
 */
@Injectable()
export class AuditAccess {
  constructor(private readonly access: AccessControl, @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries) {}

  async auditableProjects(p: Principal, ctx: CommandContext): Promise<string[]> {
    if (p.kind !== 'user') return [];
    const candidates = await this.queries.projectsWithRole(p, AUDIT_ROLES, ctx.now);
    const confirmed: string[] = [];
    for (const projectId of candidates) {
      if ((await this.access.check(p, 'read-audit', { projectId }, ctx)).allowed) confirmed.push(projectId);
    }
    return confirmed;
  }

  /** Checkpoints and consistency proofs reveal only sizes and hashes: read-audit on any project suffices. */
  async requireAnyProject(p: Principal, ctx: CommandContext): Promise<string[]> {
    const projects = await this.auditableProjects(p, ctx);
    if (projects.length === 0) throw problems.forbidden('no-grant');
    return projects;
  }
}
