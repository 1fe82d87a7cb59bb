/**
 * Synthesizes the stack the way `cdk synth` does (cdk-nag plugins included), once per test file,
 * with the config a test asks for.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { extractStateMachineDefinition } from '../../infra/asl.ts';
import { parseStackConfig, type StackConfigInput } from '../../infra/config.ts';
import { applyNagChecks } from '../../infra/nag.ts';
import { SparkT2iStack } from '../../infra/stack.ts';

export interface SynthesizedStack {
  readonly stack: SparkT2iStack;
  readonly template: Template;
  readonly asl: AslDefinition;
  /** The validation report cdk-nag wrote during synth. */
  readonly validationReport: ValidationReport;
}

export interface ValidationReport {
  readonly pluginReports: ReadonlyArray<{
    readonly pluginName: string;
    readonly conclusion: string;
    readonly violations: ReadonlyArray<{
      readonly ruleName: string;
      readonly violatingConstructs: ReadonlyArray<{ readonly constructPath: string }>;
    }>;
  }>;
}

export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Retry?: Array<Record<string, unknown> & { ErrorEquals: string[] }>;
  readonly Catch?: Array<{ ErrorEquals: string[]; Next: string; ResultPath?: string | null }>;
  readonly [key: string]: unknown;
}

export interface AslDefinition {
  readonly StartAt: string;
  readonly TimeoutSeconds?: number;
  readonly QueryLanguage?: string;
  readonly States: Record<string, AslState>;
}

export function synthesizeStack(config: StackConfigInput = {}): SynthesizedStack {
  const outdir = mkdtempSync(join(tmpdir(), 'spark-t2i-synth-'));
  const app = new App({ outdir });
  const stack = new SparkT2iStack(app, 'SparkT2i', { config: parseStackConfig(config) });
  applyNagChecks(app, stack);
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template);
  const asl = extractStateMachineDefinition(template.toJSON() as never) as unknown as AslDefinition;
  const validationReport = JSON.parse(
    readFileSync(join(outdir, 'validation-report.json'), 'utf8'),
  ) as ValidationReport;
  rmSync(outdir, { recursive: true, force: true });
  return { stack, template, asl, validationReport };
}
