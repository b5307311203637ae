import { beforeAll, expect, it } from 'vitest';
import { listing, supplier } from '@strangler/stack/testing';
import { describeTargets, type ContractTarget } from '../../src/contract-targets.ts';

// The two sides hand out ids from disjoint ranges, which also shows who answered a contract.
describeTargets('who serves listings', (target) => {
  let app: ContractTarget;
  beforeAll(() => {
    app = target();
  });

  it('when a listing is created, then its id comes from the serving side’s range', async () => {
    const created = await listing(await supplier(app));
    if (app.name === 'services') expect(created.id).toBeGreaterThanOrEqual(1_000_000_000);
    else expect(created.id).toBeLessThan(1_000_000_000);
  });
});
