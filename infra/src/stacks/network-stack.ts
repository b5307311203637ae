import { ContextProvider, Stack, type StackProps } from 'aws-cdk-lib';
import { ContextProvider as Provider } from 'aws-cdk-lib/cloud-assembly-schema';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../environments.ts';
import { acknowledge } from '../nag.ts';

export interface NetworkStackProps extends StackProps {
  config: EnvironmentConfig;
}

/**
 * The VPC over two availability zones: public subnets for the internet-facing load balancer and NAT,
 * private subnets with egress for the tasks, isolated subnets for the databases. ECR, S3 and
 * CloudWatch Logs are reached through VPC endpoints, so pulling images and shipping logs costs no NAT.
 */
export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    // The VPC checks its zones against the account's, which the cdk CLI would look up with AWS
    // credentials: the environment names them, so they are given here and synthesis needs no account.
    const zones = ContextProvider.getKey(this, { provider: Provider.AVAILABILITY_ZONE_PROVIDER });
    this.node.setContext(zones.key, props.config.availabilityZones);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      availabilityZones: props.config.availabilityZones,
      natGateways: props.config.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 26 },
      ],
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogs', { retention: props.config.logRetentionDays as logs.RetentionDays }),
          ),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });
    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    for (const [id, service] of [
      ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
      ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
      ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
    ] as const) {
      const endpoint = this.vpc.addInterfaceEndpoint(id, {
        service,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        privateDnsEnabled: true,
      });
      acknowledge(
        endpoint,
        'The endpoint admits 443 from the VPC’s own CIDR only; the rule cannot resolve that CIDR (an attribute of the VPC) and so cannot check it.',
        'AwsSolutions-EC23',
      );
    }
  }
}
