/** What differs between the environments: sizes, redundancy and protection. Passed to stacks as props; no lookups. */
export interface EnvironmentConfig {
  name: 'dev' | 'prod';
  account: string;
  region: string;
  /** The two availability zones used (named, so synthesis needs no account access). */
  availabilityZones: [string, string];
  /** NAT gateways: one in dev (cheaper, one AZ's egress), one per AZ in prod. */
  natGateways: number;
  database: {
    /** RDS instance class, without the `db.` prefix. */
    instanceType: string;
    multiAz: boolean;
    deletionProtection: boolean;
    backupRetentionDays: number;
    allocatedStorageGiB: number;
  };
  redis: { nodeType: string; replicas: number };
  /** Days logs are kept. */
  logRetentionDays: number;
  /** How long a blue/green deployment keeps blue after production traffic moved, before finishing. */
  bakeTimeMinutes: number;
  /** HTTPS on the public load balancer when a certificate is given (prod); HTTP only without (dev). */
  certificateArn?: string;
  /** The public name users reach (prod); the proxy serves it besides the load balancers' own names. */
  domainName?: string;
  /**
   * The environment whose gates a commit must have passed before this one deploys it (prod: dev).
   * Its pipelines wait for a person's approval, shown the commit and where the other environment's
   * run of it is.
   */
  promotedFrom?: { name: string; account: string; region: string };
  /** The repository the pipelines build from, through a CodeStar connection made once by hand. */
  source: { connectionArn: string; owner: string; repository: string; branch: string };
}

/** The deployment's environments. Accounts come from DEV_ACCOUNT / PROD_ACCOUNT when set (src/app.ts). */
export function environments(accounts: { dev?: string | undefined; prod?: string | undefined } = {}): EnvironmentConfig[] {
  const region = 'us-east-1';
  const source = (account: string) => ({
    connectionArn: `arn:aws:codeconnections:${region}:${account}:connection/00000000-0000-0000-0000-000000000000`,
    owner: 'cafe-co',
    repository: 'strangler',
    branch: 'main',
  });
  const dev = accounts.dev ?? '111111111111';
  const prod = accounts.prod ?? '222222222222';
  return [
    {
      name: 'dev',
      account: dev,
      region,
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      natGateways: 1,
      database: { instanceType: 't4g.medium', multiAz: false, deletionProtection: false, backupRetentionDays: 7, allocatedStorageGiB: 20 },
      redis: { nodeType: 'cache.t4g.micro', replicas: 0 },
      logRetentionDays: 14,
      bakeTimeMinutes: 5,
      source: source(dev),
    },
    {
      name: 'prod',
      account: prod,
      region,
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      natGateways: 2,
      database: { instanceType: 'm7g.large', multiAz: true, deletionProtection: true, backupRetentionDays: 14, allocatedStorageGiB: 100 },
      redis: { nodeType: 'cache.t4g.small', replicas: 1 },
      logRetentionDays: 90,
      bakeTimeMinutes: 15,
      promotedFrom: { name: 'dev', account: dev, region },
      certificateArn: `arn:aws:acm:${region}:${prod}:certificate/00000000-0000-0000-0000-000000000001`,
      domainName: 'listings.cafe-co.example',
      source: source(prod),
    },
  ];
}
