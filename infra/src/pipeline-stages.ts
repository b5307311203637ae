/**
 * The one parameterised pipeline's stages, as data: the CDK construct (`ServicePipeline`) builds its
 * stages and BuildAndTest's commands from this list, and `strangler pipeline <service>` (the local
 * pipeline) runs the same list on one machine. No CDK here, so the CLI can import it cheaply
 * (`@strangler/infra/pipeline-stages`).
 */

export type StageName = 'Source' | 'BuildAndTest' | 'Image' | 'Approve' | 'Deploy' | 'Record' | 'Cutover';

export interface PipelineStage {
  name: StageName;
  /** What the stage does, in one line (the local pipeline's plan prints it). */
  does: string;
  /**
   * When the stage exists: `always`; `promoted` only in an environment promoted from an earlier one
   * (prod's approval); `cutover` only for an image whose app has a route group to move.
   */
  when: 'always' | 'promoted' | 'cutover';
}

/**
 * BuildAndTest's shell commands, run from the repository root with `APP` (the image's folder) set:
 * on Node 24, as the project runs (engines: >=24.11 <25), with a Redis of its own for the tests.
 */
export const BUILD_AND_TEST = {
  install: [
    'node --version | grep -q "^v24\\." || { echo "BuildAndTest needs Node 24, found $(node --version)" >&2; exit 1; }',
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null && redis-server --daemonize yes',
    'npm ci --no-audit --no-fund',
  ],
  // Types and lint for everything (a shared change can break any image); the image's own tests
  // and every contract suite, monolith against services (PostgreSQL: the tests' embedded one).
  build: [
    'npm run typecheck',
    'npm run lint',
    'REDIS_URL=redis://127.0.0.1:6379 npm test -- --project api "$APP" contract-tests/contracts',
  ],
} as const;

/**
 * The gate a green deployment passes before it takes traffic, and what each cutover step runs:
 * the contract suites that work against a deployment, then the journeys, each through preview
 * routing (E2E_BASE_URL, E2E_PREVIEW, E2E_ADMIN_TOKEN).
 */
export const GATE_COMMANDS = ['npm run gate:contracts', 'npm run e2e'] as const;

/** The stages in order. */
export const PIPELINE_STAGES: readonly PipelineStage[] = [
  { name: 'Source', does: 'the commit to build: the branch’s head pushed (locally: the working tree’s commit)', when: 'always' },
  {
    name: 'BuildAndTest',
    does: 'types and lint for everything, the image’s own tests and every contract suite',
    when: 'always',
  },
  { name: 'Image', does: 'the image built from the commit (APP, ENTRY) and pushed, tagged with the commit', when: 'always' },
  { name: 'Approve', does: 'a person approves a commit that passed in the earlier environment', when: 'promoted' },
  {
    name: 'Deploy',
    does: 'green started beside blue, the gate (contracts and journeys) through preview routing to green, then traffic moved to green and blue drained',
    when: 'always',
  },
  { name: 'Record', does: 'the deployed commit written down as the one the environment runs', when: 'always' },
  { name: 'Cutover', does: 'strangler cutover of the service’s route group, gated at every step', when: 'cutover' },
];

/** The stages a pipeline has: an environment promoted from another approves; an app with a route group cuts over. */
export const stagesFor = (o: { promoted: boolean; cutover: boolean }): PipelineStage[] =>
  PIPELINE_STAGES.filter((s) => s.when === 'always' || (s.when === 'promoted' && o.promoted) || (s.when === 'cutover' && o.cutover));
