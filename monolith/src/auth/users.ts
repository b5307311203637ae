// Copied to extracted/auth/src/auth/users.ts; this copy retires with the auth group's cutover (keep the two alike: contract-tests/contracts/copies.test.ts).
import { isoTimestamp, type Queryable, type Role } from '@strangler/service-kit';

/** A user as the API shows it: never the password hash. */
export interface User {
  id: number;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
}

const USER_COLUMNS = `id::int AS id, email, name, role, ${isoTimestamp('created_at')} AS "createdAt"`;

export async function findUserById(db: Queryable, id: number): Promise<User | undefined> {
  const { rows } = await db.query<User>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0];
}

/** The user and password hash for a login; email matched case-insensitively. */
export async function findCredentials(db: Queryable, email: string): Promise<{ user: User; passwordHash: string } | undefined> {
  const { rows } = await db.query<User & { passwordHash: string }>(
    `SELECT ${USER_COLUMNS}, password_hash AS "passwordHash" FROM users WHERE lower(email) = lower($1)`,
    [email],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { passwordHash, ...user } = row;
  return { user, passwordHash };
}

/** Inserts a user; undefined when the email is taken (case-insensitively). */
export async function insertUser(
  db: Queryable,
  u: { email: string; name: string; role: Role; passwordHash: string },
): Promise<User | undefined> {
  const { rows } = await db.query<User>(
    `INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
     ON CONFLICT ((lower(email))) DO NOTHING RETURNING ${USER_COLUMNS}`,
    [u.email, u.name, u.role, u.passwordHash],
  );
  return rows[0];
}
