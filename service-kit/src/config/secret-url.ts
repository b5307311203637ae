/**
 * A connection URL with its password filled in from a variable of its own: deployments keep the
 * URL in plain settings and the password in a secret (`DATABASE_URL` + `DATABASE_PASSWORD`), so the
 * password never sits in a task definition, a log line or a terminal. A URL that already has a
 * password keeps it.
 */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  const u = new URL(url);
  if (u.password) return url;
  u.password = password;
  return u.toString();
}
