import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ServicePipeline } from '../constructs/service-pipeline.ts';
import { gateSourcesBucketName } from '../constructs/test-gate.ts';
import type { EnvironmentConfig } from '../environments.ts';
import { APPS, IMAGES, imageOf } from '../service-catalog.ts';

export interface PipelinesStackProps extends StackProps {
  config: EnvironmentConfig;
  repositories: Readonly<Record<string, ecr.IRepository>>;
  services: Readonly<Record<string, ecs.IBaseService>>;
}

/** A pipeline per image, from the one parameterised construct. */
export class PipelinesStack extends Stack {
  readonly pipelines: Readonly<Record<string, ServicePipeline>>;

  constructor(scope: Construct, id: string, props: PipelinesStackProps) {
    super(scope, id, props);
    const pipelines: Record<string, ServicePipeline> = {};
    // By its fixed name: no export from the services stack, and an IAM resource cdk-nag can read.
    const gateSources = s3.Bucket.fromBucketName(this, 'GateSources', gateSourcesBucketName(props.config));
    for (const image of IMAGES) {
      pipelines[image] = new ServicePipeline(this, `${image}Pipeline`, {
        config: props.config,
        image,
        deploys: APPS.filter((a) => imageOf(a) === image).map((app) => ({ app, service: props.services[app.name]! })),
        repository: props.repositories[image]!,
        gateSources,
        logRetention: props.config.logRetentionDays as logs.RetentionDays,
      });
    }
    this.pipelines = pipelines;
  }
}
