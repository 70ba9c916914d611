import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'pipeline-secrets:public';
/** Marks a route that needs no token (health, metrics, the audit public key). Everything else requires one. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
