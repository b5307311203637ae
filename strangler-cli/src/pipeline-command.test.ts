import { describe, expect, it } from 'vitest';
import { failedTests } from './pipeline-command.ts';

describe('failedTests (the names a red gate prints)', () => {
  it('when node:test reports failures, then each failed test is named once, without its duration', () => {
    const out = [
      '✖ planted contract: orders answer 200 (82.58ms)',
      'ℹ fail 1',
      '✖ failing tests:',
      'test at x.test.mjs:3:1',
      '✖ planted contract: orders answer 200 (82.58ms)',
    ].join('\n');
    expect(failedTests(out)).toEqual(['planted contract: orders answer 200']);
  });

  it('when vitest reports failures (colours included), then the FAIL lines and × lines name them; passing lines do not', () => {
    const out = [
      '\u001b[32m✓\u001b[39m places an order 120ms',
      '\u001b[31m×\u001b[39m cancels an order 35ms',
      ' FAIL  contract-tests/contracts/orders/orders.test.ts > orders > cancels an order',
    ].join('\n');
    expect(failedTests(out)).toEqual(['cancels an order', 'contract-tests/contracts/orders/orders.test.ts > orders > cancels an order']);
  });

  it('when the output names no test (a command that is not a test runner), then none', () => {
    expect(failedTests('sh: 1: npm run gate:contracts: not found\n')).toEqual([]);
  });
});
