/** What the figures were measured on: every result file carries it. */
import { cpus, freemem, loadavg, totalmem } from 'node:os';

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  /** 1-minute load average when the scenario started (others share this machine). */
  readonly loadAverage1m: number;
  readonly freeMemoryGiB: number;
}

export function describeMachine(): Machine {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: round(totalmem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage1m: round(loadavg()[0] ?? 0, 2),
    freeMemoryGiB: round(freemem() / 1024 ** 3, 1),
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
