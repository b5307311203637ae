import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repointUpstreams } from '../src/components.ts';

describe('a kept route table at start', () => {
  it('when an app’s upstream points elsewhere (a local pipeline moved it to a green port), then it is pointed back at the stack’s port, comments and the rest kept; a table already right is not rewritten', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'route-upstreams-'));
    const file = path.join(dir, 'routes.yaml');
    const table = [
      '# kept by the user',
      'version: 1',
      'upstreams:',
      '  monolith: { url: "http://127.0.0.1:3000", timeoutMs: 30000 }',
      '  orders: { url: "http://127.0.0.1:41234" }',
      '  elsewhere: { url: "http://10.0.0.1:80" }',
      'groups:',
      '  orders: { mode: service, target: orders }',
      'routes: []',
      'default: monolith',
      '',
    ].join('\n');
    await fs.writeFile(file, table);
    await repointUpstreams(file, { monolith: 'http://127.0.0.1:3000', orders: 'http://127.0.0.1:3103', auth: 'http://127.0.0.1:3101' });
    expect(await fs.readFile(file, 'utf8')).toBe(table.replace('41234', '3103'));
    const before = (await fs.stat(file)).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await repointUpstreams(file, { monolith: 'http://127.0.0.1:3000', orders: 'http://127.0.0.1:3103' });
    expect((await fs.stat(file)).mtimeMs).toBe(before);
    await fs.rm(dir, { recursive: true, force: true });
  });
});
