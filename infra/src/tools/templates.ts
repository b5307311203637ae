// The synthesized CloudFormation as the diagram and cost tools read it: an environment's stacks
// from a cloud assembly (cdk.out), with references resolved across stacks through their exports;
// where the tools write.
import fs from 'node:fs';
import path from 'node:path';

export interface CfnResource {
  Type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation properties are arbitrary JSON, read by path
  Properties?: Record<string, any>;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: string } }>;
}

/** A resource with the stack it lives in: `Stack/LogicalId` identifies it across the environment. */
export interface Located {
  stack: string;
  id: string;
  resource: CfnResource;
}

export const DEFAULT_ASSEMBLY = path.resolve(import.meta.dirname, '../../cdk.out');
/** Where the tools write: the generated files, and the plan that embeds them. */
export const GENERATED = path.resolve(import.meta.dirname, '../../generated');
export const PLAN = path.resolve(import.meta.dirname, '../../../migration-plan.md');

/** Every stack template of the assembly, by stack name. */
export function readAssembly(dir = DEFAULT_ASSEMBLY): Record<string, CfnTemplate> {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) throw new Error(`no cloud assembly at ${dir}: run \`npm run synth\` first`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const out: Record<string, CfnTemplate> = {};
  for (const [name, artifact] of Object.entries(manifest.artifacts)) {
    if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties?.templateFile) continue;
    out[name] = JSON.parse(fs.readFileSync(path.join(dir, artifact.properties.templateFile), 'utf8')) as CfnTemplate;
  }
  return out;
}

/** The environments present: `Strangler-<env>-<Stack>` → `<env>`. */
export const environmentsOf = (templates: Record<string, CfnTemplate>): string[] => [
  ...new Set(Object.keys(templates).map((n) => n.split('-')[1]!)),
];

/** One environment's stacks, and a resolver of references between their resources. */
export class Environment {
  readonly name: string;
  readonly stacks: Record<string, CfnTemplate>;
  private readonly exports = new Map<string, Located>();

  constructor(templates: Record<string, CfnTemplate>, name: string) {
    this.name = name;
    this.stacks = Object.fromEntries(Object.entries(templates).filter(([stack]) => stack.startsWith(`Strangler-${name}-`)));
    if (!Object.keys(this.stacks).length)
      throw new Error(`no stacks for environment "${name}" (have: ${environmentsOf(templates).join(', ')})`);
    for (const [stack, t] of Object.entries(this.stacks)) {
      for (const output of Object.values(t.Outputs ?? {})) {
        if (!output.Export) continue;
        const [target] = this.refsIn(output.Value, stack);
        if (target) this.exports.set(output.Export.Name, target);
      }
    }
  }

  /** Every resource of the environment, optionally of one type. */
  all(type?: string): Located[] {
    return Object.entries(this.stacks).flatMap(([stack, t]) =>
      Object.entries(t.Resources)
        .filter(([, r]) => !type || r.Type === type)
        .map(([id, resource]) => ({ stack, id, resource })),
    );
  }

  get(stack: string, id: string): Located | undefined {
    const resource = this.stacks[stack]?.Resources[id];
    return resource ? { stack, id, resource } : undefined;
  }

  /** The resources a value refers to (Ref, Fn::GetAtt, Fn::ImportValue, anywhere inside it). */
  refsIn(value: unknown, stack: string): Located[] {
    const found: Located[] = [];
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) return v.forEach(visit);
      if (!v || typeof v !== 'object') return;
      const o = v as Record<string, unknown>;
      if (typeof o.Ref === 'string') {
        const hit = this.get(stack, o.Ref);
        if (hit) found.push(hit);
        return;
      }
      if (Array.isArray(o['Fn::GetAtt'])) {
        const hit = this.get(stack, String(o['Fn::GetAtt'][0]));
        if (hit) found.push(hit);
        return;
      }
      if (typeof o['Fn::ImportValue'] === 'string') {
        const hit = this.exports.get(o['Fn::ImportValue']);
        if (hit) found.push(hit);
        return;
      }
      Object.values(o).forEach(visit);
    };
    visit(value);
    return found;
  }
}

/** Replace what lies between `<!-- name:start -->` and `<!-- name:end -->` in a document. */
export function replaceBetweenMarkers(doc: string, name: string, content: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`markers ${start} … ${end} not found`);
  return `${doc.slice(0, i + start.length)}\n${content.trim()}\n${doc.slice(j)}`;
}
