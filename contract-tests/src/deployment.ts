// What the contract suites, the journeys and `npm run gate:contracts` read of a run against a
// deployment. No vitest here: the gate's command reads it before any test runs.

/** The running deployment the journeys and the contract suites go to (`E2E_BASE_URL`), when one is named. */
export function deploymentUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.E2E_BASE_URL ? env.E2E_BASE_URL.replace(/\/+$/, '') : undefined;
}

/**
 * Preview routing for a run against a deployment (`E2E_PREVIEW`, e.g. `group:orders`, with the
 * proxy's admin token in `E2E_ADMIN_TOKEN`): every request of the journeys' browser and of the contract
 * suites' clients carries it, so they reach the group's target before its users do. A cutover's gate
 * runs them this way.
 */
export function previewHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> | undefined {
  const preview = env.E2E_PREVIEW;
  if (!preview) return undefined;
  const token = env.E2E_ADMIN_TOKEN;
  if (!token) throw new Error('E2E_PREVIEW needs E2E_ADMIN_TOKEN: the proxy honours a preview header only with its admin token');
  return { 'x-strangler-preview': preview, 'x-strangler-token': token };
}

/**
 * What a test may need that a deployment does not give it. A test or describe that needs one says
 * so (`needs`), and against a deployment it is reported skipped with the reason in its name.
 */
export const NEEDS = {
  database: 'reads or writes a database directly',
  'session-secret': 'signs sessions with the system’s secret',
  'route-table': 'changes the route table',
  'own-data': 'counts over a database holding only its own rows',
  'own-throttle': 'uses up the login throttle of the client it runs from',
  'known-routing': 'knows which side serves each route',
  'own-system': 'tests apps it starts itself, not the deployment',
} as const;
export type Need = keyof typeof NEEDS;

/** The suffix a test or describe not run against a deployment carries: the gate's report counts by it. */
export const notRunSuffix = (needs: readonly Need[]): string =>
  ` [not run against a deployment: needs ${needs.map((n) => `${n} (${NEEDS[n]})`).join(', ')}]`;
