/** A proxy's admin API could not be asked, or refused: the message names the proxy, never the token. */
export class ProxyAdminError extends Error {
  override readonly name = 'ProxyAdminError';
}

/** What a running proxy reports about the table in force and the writes it is still running. */
export interface WritesInFlight {
  version: number;
  hash: string;
  inFlight: number;
  /** Writes routed before this table still running: answer not sent, or an upstream attempt not done. */
  onOlderTables: number;
  /** Of those, how many only because an attempt the proxy gave up on may still commit (held for the upstream's timeout). */
  abandonedOnOlderTables: number;
}

/** The admin API of one running proxy, for tools that change what it serves (a writer switch). */
export class ProxyAdminClient {
  readonly url: string;
  readonly #token: string | undefined;

  constructor(url: string, token: string | undefined) {
    this.url = url.replace(/\/+$/, '');
    this.#token = token;
  }

  /** Makes the proxy load its route table now; resolves with the hash it then serves. */
  async reload(): Promise<{ hash: string; version: number }> {
    const body = await this.#call('POST', '/__strangler/reload');
    return body as { hash: string; version: number };
  }

  /** The table in force and the writes still running on older tables (needs the token, as every admin read does). */
  async writes(): Promise<WritesInFlight> {
    return (await this.#call('GET', '/__strangler/writes')) as WritesInFlight;
  }

  async #call(method: string, path: string): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {},
        signal: AbortSignal.timeout(5_000),
      });
    } catch (err) {
      throw new ProxyAdminError(`the proxy admin at ${this.url} did not answer ${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        // not our error shape; keep the text
      }
      throw new ProxyAdminError(`the proxy admin at ${this.url} answered ${res.status} to ${method} ${path}: ${message}`);
    }
    return JSON.parse(text) as unknown;
  }
}
