import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '@strangler/service-kit/logger';
import { isSecretName } from '@strangler/service-kit/secret-keys';
import { ACCESS_FIELDS, accessLog, type AccessLine } from './access-log.ts';

const line: AccessLine = {
  requestId: 'r-1',
  method: 'GET',
  path: '/api/listings/1',
  status: 200,
  route: 'listings',
  mode: 'service',
  target: 'listings',
  fallback: false,
  ms: 3,
};

function logger(level: string, opts: pino.LoggerOptions = {}): { log: pino.Logger; out: () => string } {
  let out = '';
  const sink = new Writable({ write: (c, _e, cb) => ((out += c), cb()) });
  return { log: pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, ...opts }, sink), out: () => out };
}

describe('the access log', () => {
  it('when its fields are checked against the secret names, then none is one: its lines need no redaction', () => {
    expect(ACCESS_FIELDS.filter((f) => isSecretName(f))).toEqual([]);
    expect([...ACCESS_FIELDS].sort()).toEqual(Object.keys(line).sort());
  });

  it('when a request is logged, then its line holds every field and the message, and the logger’s other lines are still redacted', () => {
    const { log, out } = logger('info');
    accessLog(log)!(line);
    log.info({ headers: { cookie: 'cacao_session=secret' } }, 'other');
    const [access, other] = out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(access).toMatchObject({ ...line, msg: 'request', level: 30 });
    expect(other).toMatchObject({ headers: { cookie: '[redacted]' } });
  });

  it('when a line is written, then it is byte for byte the one pino itself writes for the same fields', () => {
    const opts = { base: { service: 'strangler-proxy' }, timestamp: () => ',"time":1764700000000' };
    const ours = logger('info', opts);
    const pinos = logger('info', opts);
    accessLog(ours.log)!({ ...line, path: '/api/a%22b', requestId: 'x'.repeat(100) });
    pinos.log.info({ ...line, path: '/api/a%22b', requestId: 'x'.repeat(100) }, 'request');
    expect(ours.out()).toBe(pinos.out());
    expect(JSON.parse(ours.out())).toMatchObject({ service: 'strangler-proxy', time: 1764700000000, msg: 'request' });
  });

  it('when the level is above info, then there is no access log to call', () => {
    expect(accessLog(logger('warn').log)).toBeUndefined();
  });
});
