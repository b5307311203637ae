/** A response with its body parsed when JSON. */
export interface TestResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * A tiny HTTP client that keeps its session cookie, like one browser: tests act as distinct users
 * by holding distinct clients.
 */
export class HttpClient {
  readonly baseUrl: string;
  /** Sent with every request, under the request's own (a deployment's preview routing headers). */
  readonly defaultHeaders: Readonly<Record<string, string>>;
  cookie: string | undefined;

  constructor(baseUrl: string, defaultHeaders: Readonly<Record<string, string>> = {}) {
    this.baseUrl = baseUrl;
    this.defaultHeaders = defaultHeaders;
  }

  async request<T = any>(
    method: string,
    path: string,
    opts: { json?: unknown; body?: string; headers?: Record<string, string> } = {},
  ): Promise<TestResponse<T>> {
    const headers: Record<string, string> = { ...this.defaultHeaders, ...opts.headers };
    if (this.cookie) headers.cookie = this.cookie;
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(opts.json);
    }
    const res = await fetch(this.baseUrl + path, { method, headers, body, redirect: 'manual' });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const pair = setCookie.split(';')[0]!;
      this.cookie = /Max-Age=0/i.test(setCookie) ? undefined : pair;
    }
    const text = await res.text();
    const parsed = res.headers.get('content-type')?.includes('application/json') && text ? JSON.parse(text) : text;
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, { headers });
  }
  post<T = any>(path: string, json?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, { json, headers });
  }
  patch<T = any>(path: string, json?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PATCH', path, { json, headers });
  }
}
