import { Field, InputType, Int, ObjectType } from '@nestjs/graphql';
import { Allow } from 'class-validator';
import { PageInfo } from './types';

// Compliance reviewers' types: access history, readers, the audit checkpoint. Metadata only.

@ObjectType()
export class AccessPrincipal {
  @Field() type!: string;
  @Field() id!: string;
  @Field(() => String, { nullable: true }) pipelineId!: string | null;
  @Field(() => String, { nullable: true }) jobId!: string | null;
  @Field(() => String, { nullable: true }) ref!: string | null;
  @Field(() => Boolean, { nullable: true }) refProtected!: boolean | null;
  @Field(() => String, { nullable: true }) environment!: string | null;
  @Field(() => String, { nullable: true }) triggeredBy!: string | null;
}

@ObjectType({ description: 'How an access was decided: through a grant (grantId, role, and the request or break-glass behind it), a CI scope, or OpenBao directly (channel openbao).' })
export class AccessVia {
  @Field(() => String, { nullable: true }) grantId?: string | null;
  @Field(() => String, { nullable: true }) role?: string | null;
  @Field(() => String, { nullable: true }) accessRequestId?: string | null;
  @Field(() => Boolean, { nullable: true }) breakGlass?: boolean | null;
  @Field(() => String, { nullable: true }) scope?: string | null;
  @Field(() => String, { nullable: true }) channel?: string | null;
  @Field(() => String, { nullable: true }) requestId?: string | null;
  @Field(() => String, { nullable: true }) policy?: string | null;
}

@ObjectType()
export class AccessHistoryEntry {
  @Field() eventId!: string;
  @Field() occurredAt!: string;
  @Field() projectId!: string;
  @Field(() => String, { nullable: true }) secret!: string | null;
  @Field() action!: string;
  @Field({ description: 'allowed or denied' }) decision!: string;
  @Field(() => String, { nullable: true }) reason!: string | null;
  @Field(() => Int, { nullable: true }) version!: number | null;
  @Field(() => AccessPrincipal) principal!: AccessPrincipal;
  @Field(() => AccessVia, { nullable: true }) via!: AccessVia | null;
  @Field({ description: 'api or openbao' }) channel!: string;
  @Field(() => String, { nullable: true }) purpose!: string | null;
  @Field(() => String, { nullable: true }) correlationId!: string | null;
}

@ObjectType()
export class AccessHistoryEdge {
  @Field({ description: 'The same keyset cursor as REST access-history nextCursor' }) cursor!: string;
  @Field(() => AccessHistoryEntry) node!: AccessHistoryEntry;
}

@ObjectType()
export class AccessHistoryConnection {
  @Field(() => [AccessHistoryEdge]) edges!: AccessHistoryEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@InputType('AccessHistoryFilter', { description: 'The REST access-history query parameters (same validation).' })
export class AccessHistoryFilterInput {
  @Allow() @Field(() => String, { nullable: true }) secret?: string | null;
  @Allow() @Field(() => String, { nullable: true }) principal?: string | null;
  @Allow() @Field(() => String, { nullable: true }) pipeline?: string | null;
  @Allow() @Field(() => String, { nullable: true, description: 'allowed or denied' }) decision?: string | null;
  @Allow() @Field(() => String, { nullable: true, description: 'api or openbao' }) channel?: string | null;
  @Allow() @Field(() => String, { nullable: true, description: 'RFC 3339, inclusive' }) from?: string | null;
  @Allow() @Field(() => String, { nullable: true, description: 'RFC 3339, exclusive' }) to?: string | null;
}

@ObjectType({ description: 'A user or group (type, id), or the CI scope whose jobs could read (type ci-scope, projectId, environment, branch, protectedOnly).' })
export class ReaderPrincipal {
  @Field() type!: string;
  @Field(() => String, { nullable: true }) id?: string | null;
  @Field(() => String, { nullable: true }) projectId?: string | null;
  @Field(() => String, { nullable: true }) environment?: string | null;
  @Field(() => String, { nullable: true }) branch?: string | null;
  @Field(() => Boolean, { nullable: true }) protectedOnly?: boolean | null;
}

@ObjectType({ description: 'The grant that allowed reading (and the request or break-glass behind it), or the CI rule.' })
export class ReaderVia {
  @Field(() => String, { nullable: true }) grantId?: string | null;
  @Field(() => String, { nullable: true }) role?: string | null;
  @Field(() => String, { nullable: true }) grantedBy?: string | null;
  @Field(() => String, { nullable: true }) grantedAt?: string | null;
  @Field(() => String, { nullable: true }) expiresAt?: string | null;
  @Field(() => String, { nullable: true }) environment?: string | null;
  @Field(() => String, { nullable: true }) branch?: string | null;
  @Field(() => String, { nullable: true }) accessRequestId?: string | null;
  @Field(() => Boolean, { nullable: true }) breakGlass?: boolean | null;
  @Field(() => String, { nullable: true }) rule?: string | null;
}

@ObjectType()
export class SecretReader {
  @Field(() => ReaderPrincipal) principal!: ReaderPrincipal;
  @Field(() => ReaderVia) via!: ReaderVia;
}

@ObjectType()
export class SecretReaders {
  @Field() at!: string;
  @Field({ description: 'Whether the secret existed at `at` (false: no readers).' }) secretExisted!: boolean;
  @Field(() => [SecretReader]) readers!: SecretReader[];
}

@ObjectType({ description: 'The latest signed checkpoint of the audit log (REST GET /v1/audit/checkpoints/latest).' })
export class AuditCheckpoint {
  @Field(() => Int) treeSize!: number;
  @Field({ description: 'base64 SHA-256 Merkle root' }) rootHash!: string;
  @Field({ description: 'C2SP signed note' }) note!: string;
  @Field() createdAt!: string;
}
