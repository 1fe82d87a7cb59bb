/**
 * The Spark simulator's public API (docs/simulator.md): start one in-process with
 * {@link startSimulator}, or from the CLI with `npx spark-t2i simulator`.
 */
export {
  createFaultRoller,
  DEFAULT_FAULT_SEED,
  FAULT_KINDS,
  type FaultKind,
  type FaultRates,
  type FaultRoller,
  FaultSpecError,
  isFaultKind,
  parseFaultSeed,
  parseFaultSpec,
} from './faults.ts';
export { JOURNAL_FILE, type JournalEntry, type JournalRequest } from './journal.ts';
export { type PngSpec, renderPng } from './png.ts';
export {
  type RunningSimulator,
  type SimulatorOptions,
  SimulatorOptionsError,
  type SimulatorStats,
  SimulatorWireCodes,
  SPARK_MODEL,
  startSimulator,
} from './server.ts';
export { TASK_LOG_FILE, TaskStoreError } from './task-store.ts';
