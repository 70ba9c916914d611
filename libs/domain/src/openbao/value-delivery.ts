// The compensating record of an access whose value never left: `SecretAccessed` is durable
// before the value is read (so no value leaves unrecorded), and when the read then fails the
// audit trail must not keep saying the value was delivered.

export type ValueNotDeliveredReason =
  /** The secret was deleted (its values destroyed) between the decision and the read. */
  | 'secret-deleted'
  /** The value store has no value behind the reference, the secret still active (e.g. OpenBao restarted empty). */
  | 'value-missing'
  /** The value store did not answer (503 to the caller). */
  | 'value-store-unavailable'
  /** OpenBao refused the CI job's own login or read, well after the secret's role was due to be projected (403 to the caller). */
  | 'openbao-denied';

export interface SecretValueNotDelivered {
  type: 'SecretValueNotDelivered';
  data: {
    /** eventId of the `SecretAccessed` this corrects. */
    accessEventId: string;
    projectId: string;
    name: string;
    version: number;
    reason: ValueNotDeliveredReason;
  };
}

export const VALUE_NOT_DELIVERED_REASONS: Readonly<Record<ValueNotDeliveredReason, true>> = {
  'secret-deleted': true,
  'value-missing': true,
  'value-store-unavailable': true,
  'openbao-denied': true,
};
