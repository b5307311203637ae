import http from 'node:http';

/** What the stack's control socket says of one process (`GET /processes`). */
export interface ControlledProcess {
  name: string;
  /** Its entry script, relative to the repository root. */
  script: string;
  url: string | undefined;
  pid: number | undefined;
  /** A green deployment under test: its exit does not stop the stack. */
  candidate: boolean;
}

/**
 * One request to a running stack's control socket (its path is in stack.json): the status and the
 * JSON answer. Its own module, loading nothing but `node:http`, so the CLI can ask without the stack.
 */
export function askStack(socketPath: string, method: string, pathname: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: pathname, method }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}
