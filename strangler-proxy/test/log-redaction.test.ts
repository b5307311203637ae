import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProxyConfig } from '../src/config/proxy-config.ts';
import { REDACT_PATHS } from '@strangler/service-kit/logger';
import { startProxy, type RunningProxy } from '../src/proxy/proxy-server.ts';
import { FakeUpstream } from './support/fake-upstream.ts';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { table } from './support/proxy-harness.ts';

const SECRETS = ['Bearer sekrit-token-123', 'cacao_session=v1.secret-session', 'hunter2-password', 'query-token-xyz', 'oauth-code-123'];

describe('logs', () => {
  let upstream: FakeUpstream;
  let proxy: RunningProxy;
  let lines = '';
  let dir: string;
  beforeAll(async () => {
    upstream = await new FakeUpstream('monolith').start();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strangler-logs-'));
    await fs.writeFile(path.join(dir, 'routes.yaml'), table({ monolith: upstream.url }, ''));
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines += chunk;
        cb();
      },
    });
    const log = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    proxy = await startProxy(loadProxyConfig({ ROUTES_FILE: path.join(dir, 'routes.yaml'), PROXY_PORT: '0', ADMIN_PORT: '0' }), log);
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('when requests carry secrets in headers, cookies and the query, then no log line holds them', async () => {
    for (let i = 0; i < 20; i++) {
      await (
        await fetch(`${proxy.url}/api/login?token=query-token-xyz&code=oauth-code-123`, {
          method: 'POST',
          headers: { authorization: SECRETS[0]!, cookie: SECRETS[1]!, 'content-type': 'application/json' },
          body: JSON.stringify({ password: 'hunter2-password' }),
        })
      ).arrayBuffer();
    }
    expect(lines).toContain('"msg":"request"');
    for (const secret of SECRETS) expect(lines).not.toContain(secret);
  });

  it('when an object with secret fields is logged, then pino censors them', () => {
    let out = '';
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, new Writable({ write: (c, _e, cb) => ((out += c), cb()) }));
    log.info({ req: { headers: { authorization: 'Bearer x', cookie: 'a=b' } }, user: { password: 'p', token: 't' } }, 'x');
    expect(JSON.parse(out)).toMatchObject({
      req: { headers: { authorization: '[redacted]', cookie: '[redacted]' } },
      user: { password: '[redacted]', token: '[redacted]' },
    });
  });

  it('when the proxy’s config (its admin token) or an app’s user row (its password hash) is logged through the one logger, then both are censored', () => {
    let out = '';
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, new Writable({ write: (c, _e, cb) => ((out += c), cb()) }));
    log.info(
      { config: { adminToken: 'admin-token-0123456789', port: 8080 }, user: { email: 'a@example.com', passwordHash: 'scrypt$hash' } },
      'x',
    );
    expect(JSON.parse(out)).toMatchObject({
      config: { adminToken: '[redacted]', port: 8080 },
      user: { email: 'a@example.com', passwordHash: '[redacted]' },
    });
  });
});
