import { describe, expect, it } from 'vitest';
import { previewHeaders } from './deployment.ts';

describe('the journeys’ preview routing (E2E_PREVIEW)', () => {
  it('when a preview is asked for, then every request carries it with the admin token; without the token it refuses to start', () => {
    expect(previewHeaders({})).toBeUndefined();
    expect(previewHeaders({ E2E_PREVIEW: 'group:orders', E2E_ADMIN_TOKEN: 'a-token-of-sixteen-chars' })).toEqual({
      'x-strangler-preview': 'group:orders',
      'x-strangler-token': 'a-token-of-sixteen-chars',
    });
    expect(() => previewHeaders({ E2E_PREVIEW: 'group:orders' })).toThrow('E2E_PREVIEW needs E2E_ADMIN_TOKEN');
  });
});
