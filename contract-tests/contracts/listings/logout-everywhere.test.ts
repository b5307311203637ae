import { beforeAll, expect, it } from 'vitest';
import { supplier } from '@strangler/stack/testing';
import { describeTargets, type ContractTarget } from '../../src/contract-targets.ts';

// Sessions are revoked in Redis, which every app reads: a logout handled by the monolith (auth is
// still there) must end the session on whichever side serves the next request.
describeTargets('logout is honoured everywhere', (target) => {
  let app: ContractTarget;
  beforeAll(() => {
    app = target();
  });

  it('when a supplier logs out, then the same cookie no longer works on listings routes', async () => {
    const s = await supplier(app);
    const stolen = s.client.cookie!;
    expect((await s.client.get('/api/suppliers/mine')).status).toBe(200);
    expect((await s.client.post('/api/auth/logout')).status).toBe(204);
    const replay = app.client();
    replay.cookie = stolen;
    expect((await replay.get('/api/suppliers/mine')).status).toBe(401);
    expect((await replay.post('/api/listings', { title: 'After logout' })).status).toBe(401);
  });
});
