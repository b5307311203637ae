import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../environments.ts';
import { IMAGES } from '../service-catalog.ts';

/** The tag CloudFormation's first deployment runs, pushed by hand once (README, one-time steps). */
export const BOOTSTRAP_TAG = 'bootstrap';

/**
 * The parameter holding the tag an image's services run: written by the image's pipeline once a
 * deployment has passed, read by the services stack's task definitions at every stack operation.
 */
export const imageTagParameterName = (env: string, image: string): string => `/strangler/${env}/image-tag/${image}`;

export interface RegistryStackProps extends StackProps {
  config: EnvironmentConfig;
}

/**
 * An ECR repository per image: scanned on push, tags immutable (a tag is a commit, and a deployment
 * can always be traced back to it), old images expired but never the bootstrap one. Kept on stack
 * deletion: images are state. And per image the parameter naming the tag its services run, which
 * the pipeline owns: its value here is only the first one (CloudFormation writes it at creation and
 * never again, as nothing of it changes), so a stack update never moves an image.
 */
export class RegistryStack extends Stack {
  readonly repositories: Readonly<Record<string, ecr.Repository>>;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);
    const repos: Record<string, ecr.Repository> = {};
    for (const image of IMAGES) {
      repos[image] = new ecr.Repository(this, `${image}Repository`, {
        repositoryName: `strangler-${props.config.name}-${image}`,
        imageScanOnPush: true,
        imageTagMutability: ecr.TagMutability.IMMUTABLE,
        encryption: ecr.RepositoryEncryption.AES_256,
        removalPolicy: RemovalPolicy.RETAIN,
        lifecycleRules: [
          {
            description: 'untagged layers of failed builds',
            tagStatus: ecr.TagStatus.UNTAGGED,
            maxImageAge: Duration.days(7),
            rulePriority: 1,
          },
          {
            // An image a rule of higher priority matches cannot be expired by a lower one: this keeps
            // the one bootstrap image the stack's first deployment (and a rebuild from scratch) runs.
            description: 'never expire the bootstrap image',
            tagStatus: ecr.TagStatus.TAGGED,
            tagPrefixList: [BOOTSTRAP_TAG],
            maxImageCount: 1,
            rulePriority: 2,
          },
          {
            // The running tag is the newest build that passed its gate: among these unless 50 later builds failed.
            description: 'keep the last 50 builds (rollbacks go back that far)',
            tagStatus: ecr.TagStatus.ANY,
            maxImageCount: 50,
            rulePriority: 3,
          },
        ],
      });
      new ssm.StringParameter(this, `${image}ImageTag`, {
        parameterName: imageTagParameterName(props.config.name, image),
        description: `The ${image} image tag its services run; the ${image} pipeline writes it after each deployment`,
        stringValue: BOOTSTRAP_TAG,
      });
    }
    this.repositories = repos;
  }
}
