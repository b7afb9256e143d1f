/** Why an identifier's online record and its offline value differ, where it can be told. */
export type AuditCause =
  /** The online record was written by other code: both sides carry a `skewless_fingerprint`, and they differ. */
  | 'fingerprint'
  /** The online record is newer than what the offline store shows after its availability delay. */
  | 'offline-lag'
  /** The online store still serves a record the group's TTL has expired (written with another TTL, or none). */
  | 'ttl-expired'
  /** The identifier was deleted online; the offline delete marker the rule will take is not visible yet. */
  | 'delete-pending'
  /** Only aggregate features differ: the stream left late events out that the backfill counted (or the other way round). */
  | 'late-events'
  /** None of the above: e.g. an online value edited by hand. */
  | 'unexplained';

export const AUDIT_CAUSES: readonly AuditCause[] = ['fingerprint', 'offline-lag', 'ttl-expired', 'delete-pending', 'late-events', 'unexplained'];
