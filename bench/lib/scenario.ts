/** What every scenario gets from the runner, and gives back. */
import type { Figure, ScenarioResult, Target } from './results.ts';

export interface ScenarioContext {
  readonly quick: boolean;
  /** The exact command line of this run. */
  readonly command: string;
  /** Synthesis cache shared by every local runtime the benchmark starts. */
  readonly cacheDir: string;
  readonly log: (line: string) => void;
}

/** A scenario's findings; the runner adds the machine, date, command and duration. */
export interface ScenarioFindings {
  readonly parameters: Record<string, unknown>;
  readonly figures: readonly Figure[];
  readonly targets: readonly Target[];
  readonly notes: readonly string[];
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  run(context: ScenarioContext): Promise<ScenarioFindings>;
  /** The targets it checks, reported missed (with the error) if the scenario itself fails. */
  readonly targetNames: readonly { readonly name: string; readonly target: string }[];
}

export type { ScenarioResult };
