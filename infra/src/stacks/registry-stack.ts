import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../environments.ts';
import { IMAGES } from '../service-catalog.ts';

export interface RegistryStackProps extends StackProps {
  config: EnvironmentConfig;
}

/**
 * An ECR repository per image: scanned on push, tags immutable (a tag is a commit, and a deployment
 * can always be traced back to it), old images expired. Kept on stack deletion: images are state.
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
            description: 'keep the last 50 builds (rollbacks go back that far)',
            tagStatus: ecr.TagStatus.ANY,
            maxImageCount: 50,
            rulePriority: 2,
          },
        ],
      });
    }
    this.repositories = repos;
  }
}
