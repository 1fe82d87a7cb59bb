/**
 * How long a generation record is kept: DynamoDB deletes it once its `expiresAt` (epoch seconds,
 * the table's TTL attribute) has passed. Counted from the record's creation, so every writer that
 * sets it — the API at creation, the reconciler and the outbox for records the workflow created —
 * sets the same value; the days are the `RecordSettings` of shared/contracts. A record the workflow
 * created and completed counts them from its provider task's creation (PollTask writes it).
 */

export { DEFAULT_RECORD_RETENTION_DAYS } from '#shared/contracts/environment.ts';

const SECONDS_PER_DAY = 86_400;

/** The `expiresAt` of a record created at `createdAt` (ISO 8601), kept for `days`. */
export function expiresAtOf(createdAt: string, days: number): number {
  const created = Date.parse(createdAt);
  const from = Number.isNaN(created) ? Date.now() : created;
  return Math.floor(from / 1000) + days * SECONDS_PER_DAY;
}
