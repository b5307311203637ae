/**
 * Every process the system deploys, as data: the one place a service is added. The image build
 * (the root Dockerfile's build args), the task definitions, the load balancer rules, the pipelines
 * and the entry-point test all read this list. No CDK here, so anything can import it cheaply.
 */
export interface DeployedApp {
    /** Also the ECR repository, the ECS service and the pipeline's SERVICE variable. */
    name: string;
    /** Its workspace folder: the image's APP build arg, and what a push must touch to build it. */
    folder: string;
    /** Entry script inside the folder (the image's ENTRY build arg). */
    entry: string;
    /** Extra arguments to the entry. */
    args?: string[];
    /** Container port it serves on. */
    port: number;
    /** Its health endpoint: path, and port when not `port`. */
    health: {
        path: string;
        port?: number;
    };
    /** Its own database on the shared RDS instance (absent: none). */
    database?: string;
    /** Fargate task size: CPU units and MiB (a valid Fargate pair). */
    cpu: number;
    memoryMiB: number;
    /** Tasks per environment (min, max for autoscaled ones). */
    tasks: {
        dev: {
            min: number;
            max: number;
        };
        prod: {
            min: number;
            max: number;
        };
    };
    /** `public`: behind the internet-facing ALB; `internal`: behind the internal ALB, blue/green; `none`: no load balancer. */
    exposure: 'public' | 'internal' | 'none';
    /** Besides its own folder, what else a push may change for it to be rebuilt. */
    sharedPaths: string[];
    /** Plain settings (secrets are wired separately, as secrets). */
    env: Record<string, string>;
}
export declare const APPS: readonly DeployedApp[];
/** The apps behind the internal ALB with blue/green deployments: the monolith and the extracted services. */
export declare const BLUE_GREEN_APPS: DeployedApp[];
/** The command the image runs: `node <folder>/<entry> [args]`. */
export declare const commandOf: (a: DeployedApp) => string[];
