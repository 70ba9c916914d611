import { CanActivate, ExecutionContext, Inject, Injectable, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { decodeJwt } from 'jose';
import { Principal } from '@app/domain';
import { PUBLIC_ROUTE } from '@app/infra/nest/public';
import { TOKEN_VERIFIER } from '@app/infra/nest/tokens';
import { TokenVerifier } from '@app/infra/auth/token-verifier';
import { problems } from './problem';
import { AuthenticatedRequest } from './request-context';


@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(@Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier, private readonly reflector: Reflector) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    // A GraphQL resolver's request is in its context argument (graphql/graphql-api.module.ts).
    const req = context.getType<string>() === 'graphql' ? (context.getArgByIndex(2) as { req: AuthenticatedRequest }).req : context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = req.header('authorization');
    if (!header) throw problems.unauthorized('missing bearer token');
    const m = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header);
    if (!m) throw problems.unauthorized('malformed Authorization header');
    req.principal = await this.verifier.verify(m[1]);
    // Verified above (exp is a required claim): long-lived responses (the audit stream) end with it.
    const exp = decodeJwt(m[1]).exp;
    if (typeof exp === 'number') req.tokenExpiresAt = exp * 1000;
    // Kept only for a CI job, whose own token logs in to OpenBao for brokered reads; never logged.
    if (req.principal.kind === 'ci-job') Object.defineProperty(req, 'ciJobToken', { value: m[1], enumerable: false });
    return true;
  }
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const p = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!p) throw problems.unauthorized('missing bearer token');
  return p;
});
