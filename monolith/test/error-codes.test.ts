import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '@strangler/service-kit';

// Clients branch on error codes; a code that is not documented is a code nobody can rely on.
describe('error registry', () => {
  const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');

  it.each(Object.entries(ERRORS))('when %s exists, then README.md documents it with its status', (code, { status }) => {
    expect(readme).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`));
  });

  it('when README.md lists a code, then the registry has it', () => {
    const documented = [...readme.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*\d{3}\s*\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERRORS).sort());
  });
});
