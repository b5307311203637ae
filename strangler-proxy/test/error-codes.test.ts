import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROXY_ERRORS } from '../src/errors.ts';

describe('proxy error registry', () => {
  const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');
  it.each(Object.entries(PROXY_ERRORS))('when %s exists, then README.md documents it with its status', (code, { status }) => {
    expect(readme).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`));
  });
  it('when README.md lists a code, then the registry has it', () => {
    const documented = [...readme.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*\d{3}\s*\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(PROXY_ERRORS).sort());
  });
});

describe('proxy settings', () => {
  it('when the proxy reads an environment variable, then README.md documents it', () => {
    const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');
    const source = fs.readFileSync(path.resolve(import.meta.dirname, '../src/config/proxy-config.ts'), 'utf8');
    const read = [...new Set([...source.matchAll(/env(?:\.|, ')([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!))];
    expect(read.length).toBeGreaterThan(20);
    expect(read.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
