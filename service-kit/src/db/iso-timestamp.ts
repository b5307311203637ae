/**
 * SQL that renders a timestamptz column as an ISO 8601 UTC string with milliseconds
 * (`2026-03-15T09:30:00.000Z`), the same text as JavaScript's toISOString, whatever the session time zone.
 */
export function isoTimestamp(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}
