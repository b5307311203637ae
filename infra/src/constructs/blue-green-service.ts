import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';
import type { DeployedApp } from '../service-catalog.ts';
import { APP_CONTAINER, type AppTask } from './app-task.ts';
import type { TestGate } from './test-gate.ts';

export interface BlueGreenServiceProps {
  app: DeployedApp;
  task: AppTask;
  cluster: ecs.ICluster;
  vpc: ec2.IVpc;
  securityGroup: ec2.ISecurityGroup;
  /** The internal load balancer's production and test listeners for this app (its own ports). */
  productionListener: elbv2.ApplicationListener;
  testListener: elbv2.ApplicationListener;
  gate: TestGate;
  desiredCount: number;
  maxCount: number;
  bakeTime: Duration;
  capacity: ecs.CapacityProviderStrategy[];
}

/**
 * An app behind the internal load balancer, released by ECS-native blue/green: two target groups
 * (blue serves, green takes the new revision), a production and a test listener rule, the test gate
 * as the POST_TEST_TRAFFIC_SHIFT hook, a bake time, and alarms (5xx, unhealthy hosts on either target
 * group) that roll a deployment back while it runs or bakes.
 */
export class BlueGreenService extends Construct {
  readonly service: ecs.FargateService;
  readonly blue: elbv2.ApplicationTargetGroup;
  readonly green: elbv2.ApplicationTargetGroup;
  readonly productionRule: elbv2.ApplicationListenerRule;
  readonly testRule: elbv2.ApplicationListenerRule;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: BlueGreenServiceProps) {
    super(scope, id);
    const { app } = props;
    const targetGroup = (color: string): elbv2.ApplicationTargetGroup =>
      new elbv2.ApplicationTargetGroup(this, color, {
        vpc: props.vpc,
        port: app.port,
        protocol: elbv2.ApplicationProtocol.HTTP,
        targetType: elbv2.TargetType.IP,
        healthCheck: { path: app.health.path, healthyThresholdCount: 2, interval: Duration.seconds(10), timeout: Duration.seconds(5) },
        deregistrationDelay: Duration.seconds(30),
      });
    this.blue = targetGroup('Blue');
    this.green = targetGroup('Green');
    // Forward-only rules, one per listener; ECS moves their weights between blue and green.
    this.productionRule = new elbv2.ApplicationListenerRule(this, 'ProductionRule', {
      listener: props.productionListener,
      priority: 1,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/*'])],
      action: elbv2.ListenerAction.forward([this.blue]),
    });
    this.testRule = new elbv2.ApplicationListenerRule(this, 'TestRule', {
      listener: props.testListener,
      priority: 1,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/*'])],
      action: elbv2.ListenerAction.forward([this.green]),
    });

    this.alarms = [this.blue, this.green].flatMap((tg, i) => {
      const color = i === 0 ? 'Blue' : 'Green';
      return [
        new cloudwatch.Alarm(this, `${color}Errors`, {
          alarmDescription: `${app.name}: answers 5xx (${color.toLowerCase()} target group) — rolls a deployment back`,
          metric: tg.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(1), statistic: 'Sum' }),
          threshold: 10,
          evaluationPeriods: 2,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
        new cloudwatch.Alarm(this, `${color}Unhealthy`, {
          alarmDescription: `${app.name}: unhealthy targets (${color.toLowerCase()} target group) — rolls a deployment back`,
          metric: tg.metrics.unhealthyHostCount({ period: Duration.minutes(1), statistic: 'Maximum' }),
          threshold: 1,
          evaluationPeriods: 2,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ];
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      serviceName: app.name,
      taskDefinition: props.task.taskDefinition,
      desiredCount: props.desiredCount,
      securityGroups: [props.securityGroup],
      vpcSubnets: { subnetGroupName: 'app' },
      capacityProviderStrategies: props.capacity,
      deploymentStrategy: ecs.DeploymentStrategy.BLUE_GREEN,
      bakeTime: props.bakeTime,
      // Tasks that cannot start fail the deployment in minutes, not hours.
      circuitBreaker: { enable: true, rollback: true },
      deploymentAlarms: { alarmNames: this.alarms.map((a) => a.alarmName), behavior: ecs.AlarmBehavior.ROLLBACK_ON_ALARM },
      lifecycleHooks: [props.gate.target],
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
    });
    this.service
      .loadBalancerTarget({
        containerName: APP_CONTAINER,
        containerPort: app.port,
        protocol: ecs.Protocol.TCP,
        alternateTarget: new ecs.AlternateTarget('Green', {
          alternateTargetGroup: this.green,
          productionListener: ecs.ListenerRuleConfiguration.applicationListenerRule(this.productionRule),
          testListener: ecs.ListenerRuleConfiguration.applicationListenerRule(this.testRule),
        }),
      })
      .attachToApplicationTargetGroup(this.blue);
    acknowledge(
      this.service,
      'The role ECS assumes to move listener rules between blue and green: AWS’s managed policy for exactly that, kept current by AWS as the feature grows.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers]',
    );
    const scaling = this.service.autoScaleTaskCount({ minCapacity: props.desiredCount, maxCapacity: props.maxCount });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });
  }
}
