// cdk-nag 3 reads acknowledgements from CDK's own Validations metadata, on the resource or any
// construct above it. Every acknowledgement carries its reason, which the closing audit lists.
import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { rules } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** Acknowledge cdk-nag findings (rule ids such as `AwsSolutions-RDS3`, or one finding: `AwsSolutions-IAM5[Resource::*]`) on a construct and everything under it. */
export function acknowledge(scope: IConstruct, reason: string, ...ids: string[]): void {
  Validations.of(scope).acknowledge(...ids.map((id) => ({ id, reason })));
}

/** A kind of wildcard a generated policy may hold, and why it is acceptable. */
export interface WildcardAllowance {
  /** Matched against the finding: `Action::s3:List*` or `Resource::arn:…:log-group:/aws/codebuild/<Project>:*`. */
  finding: RegExp;
  /** Only on policies whose construct path matches (default: anywhere). */
  path?: RegExp;
  reason: string;
}

/**
 * Actions AWS authorises only on `Resource: *` (no resource-level permissions): a `Resource::*`
 * finding is acknowledged only when every action granted on `*` is one of these.
 */
export const ACTIONS_WITHOUT_RESOURCE_SCOPE = new Set([
  'ecr:GetAuthorizationToken',
  'ec2:CreateNetworkInterface',
  'ec2:DescribeDhcpOptions',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeSubnets',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeVpcs',
  'ecs:RegisterTaskDefinition',
  'ecs:DescribeTaskDefinition',
  'ecs:DescribeServices',
  'ecs:DescribeTasks',
  'ecs:ListTasks',
  'ecs:DescribeServiceDeployments',
  'ecs:DescribeServiceRevisions',
  'codebuild:CreateReportGroup',
  'codebuild:CreateReport',
  'codebuild:UpdateReport',
  'codebuild:BatchPutTestCases',
  'codebuild:BatchPutCodeCoverages',
]);

interface Statement {
  Effect?: string;
  Action?: string | string[];
  Resource?: unknown;
}

const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

function statementsOf(node: CfnResource): Statement[] {
  const stack = Stack.of(node);
  if (node instanceof iam.CfnPolicy || node instanceof iam.CfnManagedPolicy)
    return list((stack.resolve(node.policyDocument) as { Statement?: Statement[] }).Statement);
  if (node instanceof iam.CfnRole) {
    const policies = list(stack.resolve(node.policies) as { policyDocument: { Statement?: Statement[] } }[] | undefined);
    return policies.flatMap((p) => list(p.policyDocument.Statement));
  }
  return [];
}

/** Actions granted on `Resource: *` by this policy that AWS could have scoped to a resource. */
export function scopableActionsOnStar(node: CfnResource): string[] {
  return statementsOf(node)
    .filter((s) => s.Effect === 'Allow' && list(s.Resource as string | string[]).includes('*'))
    .flatMap((s) => list(s.Action))
    .filter((a) => !ACTIONS_WITHOUT_RESOURCE_SCOPE.has(a));
}

/**
 * Acknowledge the AwsSolutions-IAM5 (wildcard) findings of the IAM policies under `scope`, one by
 * one, when each matches an allowance — computed with cdk-nag's own rule, so a new wildcard that
 * matches none stays a finding and fails synthesis. `Resource::*` is acknowledged only for actions
 * that cannot be scoped (ACTIONS_WITHOUT_RESOURCE_SCOPE). Call once every grant has been made.
 */
export function acknowledgeWildcards(scope: IConstruct, allowances: readonly WildcardAllowance[]): void {
  for (const node of scope.node.findAll()) {
    if (!CfnResource.isCfnResource(node)) continue;
    const findings = rules.iam.IAMNoWildcardPermissions(node);
    if (!Array.isArray(findings)) continue;
    for (const finding of findings) {
      const allowed = allowances.find((a) => a.finding.test(finding) && (!a.path || a.path.test(node.node.path)));
      if (allowed) acknowledge(node, allowed.reason, `AwsSolutions-IAM5[${finding}]`);
      else if (finding === 'Resource::*' && scopableActionsOnStar(node).length === 0) {
        acknowledge(
          node,
          'Only actions AWS authorises on every resource (no resource-level permissions) are granted on *.',
          'AwsSolutions-IAM5[Resource::*]',
        );
      }
    }
  }
}
