import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { repoRoot } from './config.ts';
import { freePort } from './free-port.ts';
import type { ProcessGroup } from './process-group.ts';
import type { ControlledProcess } from './control-client.ts';

const greenOf = (name: string): string => `${name}-green`;

/**
 * The running stack's control socket (a Unix socket next to stack.json, the owner's alone): how the
 * local pipeline replaces one app blue/green without bringing the stack down, while the stack keeps
 * owning every process (so Ctrl-C stops green too).
 *
 * - `GET /processes` — what runs.
 * - `POST /processes/<name>/green` — a copy of `<name>` (the same entry, blue's settings) on a free
 *   port, started as `<name>-green` and waited on until ready: `{ name, url, pid }`.
 * - `POST /processes/<name>/promote` — blue stopped (it drains), green takes its name and place.
 * - `DELETE /processes/<name>/green` — green stopped; blue serves on.
 */
export async function startStackControl(
  socketPath: string,
  group: ProcessGroup,
  log: (line: string) => void,
): Promise<{ socketPath: string; close(): Promise<void> }> {
  const answer = (res: http.ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const fail = (res: http.ServerResponse, status: number, code: string, message: string): void =>
    answer(res, status, { error: { code, message } });
  const describe = (): ControlledProcess[] =>
    group.list().map((p) => ({
      name: p.name,
      script: path.relative(repoRoot, p.spec.script),
      url: p.spec.url,
      pid: p.pid,
      candidate: !p.critical,
    }));

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://stack');
      if (req.method === 'GET' && url.pathname === '/processes') return answer(res, 200, describe());
      const m = /^\/processes\/([a-z0-9-]+)\/(green|promote)$/.exec(url.pathname);
      if (!m) return fail(res, 404, 'not_found', `no such control path: ${req.method} ${url.pathname}`);
      const [, name, what] = m as unknown as [string, string, string];
      const running = group.list();
      const blue = running.find((p) => p.name === name);
      const green = running.find((p) => p.name === greenOf(name));
      if (!blue) return fail(res, 404, 'unknown_process', `no process named ${name} runs in this stack`);
      if (what === 'green' && req.method === 'POST') {
        if (green) return fail(res, 409, 'green_running', `${greenOf(name)} already runs (${green.spec.url}): stop it first`);
        if (!blue.spec.env.PORT || !blue.spec.url)
          return fail(res, 400, 'not_replaceable', `${name} takes no PORT: only an app serving on PORT can run green`);
        const port = await freePort();
        const at = (u: string): string =>
          Object.assign(new URL(u), { port: String(port) })
            .toString()
            .replace(/\/$/, '');
        const spec = {
          ...blue.spec,
          name: greenOf(name),
          env: { ...blue.spec.env, PORT: String(port) },
          url: at(blue.spec.url),
          readyUrl: at(blue.spec.readyUrl),
        };
        log(`starting ${spec.name} beside ${name} on ${spec.url}`);
        try {
          await group.start(spec, { critical: false });
        } catch (err) {
          return fail(res, 502, 'green_not_ready', (err as Error).message);
        }
        return answer(
          res,
          201,
          describe().find((p) => p.name === spec.name),
        );
      }
      if (!green) return fail(res, 404, 'no_green', `no ${greenOf(name)} runs: start one first`);
      if (what === 'green' && req.method === 'DELETE') {
        await group.retire(greenOf(name));
        log(`${greenOf(name)} stopped; ${name} serves on`);
        return answer(res, 200, describe());
      }
      if (what === 'promote' && req.method === 'POST') {
        await group.promote(greenOf(name), name);
        log(`${name}: green promoted (${green.spec.url}), blue stopped`);
        return answer(res, 200, describe());
      }
      return fail(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
    })().catch((err: unknown) => fail(res, 500, 'control_failed', (err as Error).message));
  });
  // A socket left by a stack that did not stop cleanly (this one's ports were free, so none runs).
  await fs.promises.rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
  await fs.promises.chmod(socketPath, 0o600);
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
