import { describe, expect, it } from 'vitest';
import { SessionTokens } from './session-token.ts';

const KEY_A = 'a'.repeat(32);
const KEY_B = 'b'.repeat(32);

describe('SessionTokens', () => {
  it('when a token is issued, then it verifies to the same claims with the right lifetime', () => {
    const tokens = new SessionTokens([KEY_A], 3600);
    const now = Date.UTC(2026, 0, 1);
    const { token, session } = tokens.issue({ id: 7, role: 'supplier' }, now);
    expect(tokens.verify(token, now + 1000)).toEqual(session);
    expect(session).toMatchObject({ sub: 7, role: 'supplier', iat: now / 1000, exp: now / 1000 + 3600 });
    expect(tokens.verify(token, now + 3600 * 1000)).toBeUndefined();
  });

  it('when keys rotate, then old tokens still verify and new ones are signed with the new key', () => {
    const old = new SessionTokens([KEY_A]).issue({ id: 1, role: 'buyer' }).token;
    const rotated = new SessionTokens([KEY_B, KEY_A]);
    expect(rotated.verify(old)?.sub).toBe(1);
    const fresh = rotated.issue({ id: 2, role: 'buyer' }).token;
    expect(new SessionTokens([KEY_A]).verify(fresh)).toBeUndefined();
    expect(new SessionTokens([KEY_B]).verify(fresh)?.sub).toBe(2);
  });

  it('when claims are malformed though signed, then they are refused', () => {
    const tokens = new SessionTokens([KEY_A]);
    const { token } = tokens.issue({ id: 1, role: 'buyer' });
    const [v, , sig] = token.split('.');
    expect(tokens.verify(`${v}.${Buffer.from('{"sub":"1"}').toString('base64url')}.${sig}`)).toBeUndefined();
    expect(tokens.verify(token.replace(/^v1/, 'v2'))).toBeUndefined();
    expect(tokens.verify(`${token}.extra`)).toBeUndefined();
  });

  it('when a key is short or missing, then the constructor refuses it', () => {
    expect(() => new SessionTokens([])).toThrow(/at least one/);
    expect(() => new SessionTokens(['short'])).toThrow(/32 characters/);
  });
});
