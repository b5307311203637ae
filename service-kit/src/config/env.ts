/** A configuration problem: the message names the variable and what to set. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Readers for one environment, each refusing a malformed value with a message naming the variable. */
export function envReader(env: NodeJS.ProcessEnv) {
  return {
    required(name: string, what: string): string {
      const v = env[name];
      if (!v) throw new ConfigError(`${name} is required: ${what}`);
      return v;
    },
    optional(name: string): string | undefined {
      return env[name] || undefined;
    },
    string(name: string, fallback: string): string {
      return env[name] || fallback;
    },
    int(name: string, fallback: number, min: number, max: number): number {
      const raw = env[name];
      if (raw === undefined || raw === '') return fallback;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min || n > max)
        throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return n;
    },
    bool(name: string, fallback: boolean): boolean {
      const raw = env[name];
      if (raw === undefined || raw === '') return fallback;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new ConfigError(`${name} must be true or false, got "${raw}"`);
    },
    /** SESSION_SECRET: comma-separated keys of ≥ 32 characters; the first signs, all verify. */
    sessionSecrets(): string[] {
      const secrets = (env.SESSION_SECRET ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (!secrets.length || secrets.some((s) => s.length < 32)) {
        throw new ConfigError('SESSION_SECRET is required: one or more comma-separated keys of at least 32 characters');
      }
      return secrets;
    },
  };
}
