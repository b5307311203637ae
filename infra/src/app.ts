// The CDK app: every stack, for dev and prod. `npm run synth` (or `npx cdk synth`, through cdk.json) writes infra/cdk.out.
// Synthesis needs no AWS account: no context lookups; accounts from DEV_ACCOUNT / PROD_ACCOUNT when set.
import path from 'node:path';
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgeWildcards, type WildcardAllowance } from './nag.ts';
import { environments, type EnvironmentConfig } from './environments.ts';
import { DataStack } from './stacks/data-stack.ts';
import { NetworkStack } from './stacks/network-stack.ts';
import { PipelinesStack } from './stacks/pipelines-stack.ts';
import { RegistryStack } from './stacks/registry-stack.ts';
import { ServicesStack } from './stacks/services-stack.ts';

export interface SystemStacks {
  network: NetworkStack;
  data: DataStack;
  registry: RegistryStack;
  services: ServicesStack;
  pipelines: PipelinesStack;
}

/** One environment's stacks: stateful ones (data, registry) apart from what can be redeployed at will. */
export function addEnvironment(app: App, config: EnvironmentConfig): SystemStacks {
  const env = { account: config.account, region: config.region };
  const name = (stack: string): string => `Strangler-${config.name}-${stack}`;
  const network = new NetworkStack(app, name('Network'), { env, config });
  const data = new DataStack(app, name('Data'), { env, config, vpc: network.vpc });
  const registry = new RegistryStack(app, name('Registry'), { env, config });
  const services = new ServicesStack(app, name('Services'), { env, config, vpc: network.vpc, data, repositories: registry.repositories });
  const pipelines = new PipelinesStack(app, name('Pipelines'), {
    env,
    config,
    repositories: registry.repositories,
    services: services.services,
  });
  for (const stack of [network, data, registry, services, pipelines]) {
    Tags.of(stack).add('project', 'strangler');
    Tags.of(stack).add('environment', config.name);
  }
  return { network, data, registry, services, pipelines };
}

/** The wildcards CDK's generated grants hold, each with why it is as narrow as AWS allows. */
export const GENERATED_WILDCARDS: readonly WildcardAllowance[] = [
  {
    finding: /^Resource::arn:<AWS::Partition>:logs:[^:]+:[^:]+:log-group:\/aws\/codebuild\/<\w+>:\*$/,
    reason: 'CodeBuild writes to streams it names per build, in its own project’s log group only.',
  },
  {
    finding: /^Resource::arn:<AWS::Partition>:codebuild:[^:]+:[^:]+:report-group\/<\w+>-\*$/,
    reason: 'The test report groups named after the project itself.',
  },
  {
    finding: /^Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface\/\*$/,
    reason:
      'CodeBuild in a VPC creates its network interfaces per build (ids unknown beforehand); CDK conditions the grant on the project’s subnets.',
  },
  {
    finding: /^Resource::<\w+PipelineArtifacts\w+\.Arn>\/\*$/,
    path: /Pipeline\//,
    reason: 'The objects of the pipeline’s own artifact bucket.',
  },
  {
    finding: /^Resource::\*$/,
    path: /Pipeline\/Deploy\/Deploy-/,
    reason:
      'CDK’s ECS deploy action: UpdateService/TagResource and the Describe/List/Register calls on *, iam:PassRole on * conditioned on ecs-tasks.amazonaws.com (the task roles are in another stack).',
  },
  {
    finding: /^Resource::<GateSources\w+\.Arn>\/sources\/\*$/,
    path: /Gate\/Tests\//,
    reason: 'The gate reads the source zip of whichever commit is being deployed (`sources/<commit>.zip`), named only at deploy time.',
  },
  {
    finding: /^Resource::arn:<AWS::Partition>:s3:::strangler-\w+-gate-sources-[\w-]+\/sources\/\*\.zip$/,
    path: /Pipeline\/Image\//,
    reason: 'The image build writes its own commit’s source zip (`sources/<commit>.zip`), the commit known only when it runs.',
  },
  {
    finding: /^Action::s3:(GetObject|GetBucket|List)\*$/,
    path: /Gate\/Tests\//,
    reason: 'CDK’s read grant on the gate sources bucket and its `sources/` objects (the only resources of these statements).',
  },
  {
    finding: /^Action::s3:(GetObject|GetBucket|List|DeleteObject|Abort)\*$/,
    path: /Pipeline\//,
    reason: 'CDK’s read/write grant on the pipeline’s own artifact bucket and its objects (the only resources of these statements).',
  },
];

/** The whole app, cdk-nag's AWS Solutions checks applied (a check without a justified suppression is an error). */
export function buildApp(
  opts: {
    outdir?: string;
    accounts?: { dev?: string; prod?: string };
    /** Changes each environment's settings first (tests: what a later stack update would change). */
    configure?: (config: EnvironmentConfig) => EnvironmentConfig;
  } = {},
): {
  app: App;
  stacks: Record<'dev' | 'prod', SystemStacks>;
} {
  const app = new App({
    ...(opts.outdir ? { outdir: opts.outdir } : {}),
    // Cross-stack references as CloudFormation exports: a stack in use (the data stack, above all)
    // cannot lose an output its consumers still read.
    context: { '@aws-cdk/core:defaultCrossStackReferences': 'strong' },
  });
  const [dev, prod] = environments(opts.accounts ?? {}).map(opts.configure ?? ((c) => c));
  const stacks = { dev: addEnvironment(app, dev!), prod: addEnvironment(app, prod!) };
  for (const env of Object.values(stacks)) for (const stack of Object.values(env)) acknowledgeWildcards(stack, GENERATED_WILDCARDS);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }));
  return { app, stacks };
}

if (import.meta.main) {
  const started = performance.now();
  // Under the cdk CLI (cdk.json), its output directory; run directly, infra/cdk.out either way.
  const { app } = buildApp({
    outdir: process.env.CDK_OUTDIR ?? path.resolve(import.meta.dirname, '../cdk.out'),
    accounts: { dev: process.env.DEV_ACCOUNT, prod: process.env.PROD_ACCOUNT },
  });
  const assembly = app.synth();
  console.log(
    `synthesized ${assembly.stacks.length} stacks into ${path.relative(process.cwd(), assembly.directory)} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}
