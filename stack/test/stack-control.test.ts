import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/free-port.ts';
import { isAlive, ProcessGroup, type ProcessSpec } from '../src/process-group.ts';
import { askStack } from '../src/control-client.ts';
import { startStackControl } from '../src/stack-control.ts';

/**
 * The stack's blue/green replacement with real processes: a tiny HTTP app (PORT, `/readyz`, and
 * `/exit` to make it exit on its own) run by a real process group behind the real control socket.
 */
let dir: string;
let script: string;
let group: ProcessGroup | undefined;
let control: Awaited<ReturnType<typeof startStackControl>> | undefined;
const unexpected: string[] = [];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stack-control-'));
  script = path.join(dir, 'app.mjs');
  await fs.writeFile(
    script,
    `import http from 'node:http';
const server = http.createServer((req, res) => {
  if (req.url === '/exit') { res.end('bye'); setTimeout(() => process.exit(7), 10); return; }
  res.end(JSON.stringify({ pid: process.pid, port: process.env.PORT, setting: process.env.SETTING }));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`,
  );
});

afterEach(async () => {
  await control?.close();
  await group?.stop(2000);
  control = group = undefined;
  unexpected.length = 0;
});

async function startApp(): Promise<{ spec: ProcessSpec & { url: string }; socket: string }> {
  group = new ProcessGroup({ log: () => {}, onUnexpectedExit: (name, code) => unexpected.push(`${name} ${code}`) });
  const port = await freePort();
  const spec = {
    name: 'app',
    script,
    env: { PORT: String(port), SETTING: 'blue-setting' },
    url: `http://127.0.0.1:${port}`,
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  };
  await group.start(spec);
  const socket = path.join(dir, `stack-${port}.sock`);
  control = await startStackControl(socket, group, () => {});
  return { spec, socket };
}

const call = async (socketPath: string, method: string, p: string): Promise<{ status: number; body: any }> =>
  askStack(socketPath, method, p);
const until = async (test: () => boolean): Promise<void> => {
  for (let i = 0; i < 100 && !test(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe('the stack’s control socket (blue/green replacement of one app)', () => {
  it('when green is started, then it runs the same script with blue’s settings on another port; when promoted, blue is stopped and green takes its name, and its exit then stops the stack', async () => {
    const { spec, socket } = await startApp();
    expect((await fs.stat(socket)).mode & 0o777).toBe(0o600);
    const green = await call(socket, 'POST', '/processes/app/green');
    expect(green.status).toBe(201);
    expect(green.body).toMatchObject({
      name: 'app-green',
      script: path.relative(path.resolve(import.meta.dirname, '../..'), script),
      candidate: true,
    });
    expect(green.body.url).not.toBe(spec.url);
    const answer = await (await fetch(green.body.url)).json();
    expect(answer).toMatchObject({ setting: 'blue-setting', port: new URL(green.body.url).port });
    expect((await call(socket, 'POST', '/processes/app/green')).body.error.code).toBe('green_running');

    const blue = (await call(socket, 'GET', '/processes')).body.find((p: { name: string }) => p.name === 'app');
    const promoted = await call(socket, 'POST', '/processes/app/promote');
    expect(promoted.status).toBe(200);
    expect(promoted.body).toEqual([expect.objectContaining({ name: 'app', url: green.body.url, pid: green.body.pid, candidate: false })]);
    expect(isAlive(blue.pid)).toBe(false);
    expect(unexpected).toEqual([]);
    // From now on it is the app: its exit is a crash of the stack's.
    await fetch(`${green.body.url}/exit`);
    await until(() => unexpected.length > 0);
    expect(unexpected).toEqual(['app 7']);
  });

  it('when green exits on its own (a candidate crashing under its gate), then the stack goes on with blue; stopping green leaves blue; the group’s stop stops a green still running', async () => {
    const { spec, socket } = await startApp();
    const green = (await call(socket, 'POST', '/processes/app/green')).body;
    await fetch(`${green.url}/exit`);
    await until(() => group!.list().length === 1);
    expect(isAlive(green.pid)).toBe(false);
    expect(unexpected).toEqual([]);
    expect((await call(socket, 'GET', '/processes')).body.map((p: { name: string }) => p.name)).toEqual(['app']);
    expect((await fetch(spec.url)).status).toBe(200);

    const again = (await call(socket, 'POST', '/processes/app/green')).body;
    const stopped = await call(socket, 'DELETE', '/processes/app/green');
    expect(stopped.status).toBe(200);
    expect(isAlive(again.pid)).toBe(false);
    expect((await call(socket, 'DELETE', '/processes/app/green')).body.error.code).toBe('no_green');

    const last = (await call(socket, 'POST', '/processes/app/green')).body;
    await group!.stop(2000);
    expect(isAlive(last.pid)).toBe(false);
    expect(unexpected).toEqual([]);
  });

  it('when asked for an app it does not run or a path it does not know, then a clear error with a stable code', async () => {
    const { socket } = await startApp();
    expect(await call(socket, 'POST', '/processes/nothing/green')).toMatchObject({
      status: 404,
      body: { error: { code: 'unknown_process' } },
    });
    expect(await call(socket, 'POST', '/processes/app/promote')).toMatchObject({ status: 404, body: { error: { code: 'no_green' } } });
    expect(await call(socket, 'GET', '/elsewhere')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });
});
