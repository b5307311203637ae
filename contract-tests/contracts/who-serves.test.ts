import { beforeAll, expect, it } from 'vitest';
import { buyer, listing, supplier } from '@strangler/stack/testing';
import { describeTargets, type ContractTarget } from '../src/contract-targets.ts';

// The two sides hand out ids from disjoint ranges, which also shows who answered a contract.
describeTargets(
  'who serves',
  (target) => {
    let app: ContractTarget;
    const onServiceSide = (id: number): boolean => id >= 1_000_000_000;
    beforeAll(() => {
      app = target();
    });

    it('when a user registers, a listing is created and an order placed, then each id comes from the serving side’s range', async () => {
      const s = await supplier(app);
      const created = await listing(s);
      const b = await buyer(app);
      const order = (await b.client.post('/api/orders', { items: [{ listingId: created.id, quantityKg: 10 }] })).body.order;
      const expected = app.name === 'services';
      expect([onServiceSide(s.user.id), onServiceSide(created.id), onServiceSide(order.id)]).toEqual([expected, expected, expected]);
    });
  },
  { needs: ['known-routing'] },
);
