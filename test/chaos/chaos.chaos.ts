/**
 * The full-size chaos runs (`npm run test:chaos`): every simulator fault at once over CHAOS_N
 * generations (default 1,000), then CHAOS_RESTART_N generations (default 300) with three SIGKILLs
 * at random moments. Each prints its figures and fails on any broken invariant.
 */
import { describe, expect, it } from 'vitest';
import { formatReport, runChaos } from './suite.ts';

const sizeOf = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};
const log = (line: string) => console.log(`[chaos] ${line}`);

describe('chaos', () => {
  it(`keeps every promise over ${sizeOf('CHAOS_N', 1000)} generations under every fault at once`, async () => {
    const report = await runChaos({
      n: sizeOf('CHAOS_N', 1000),
      seed: sizeOf('CHAOS_SEED', 1),
      log,
    });
    console.log(formatReport(report));
    expect(report.violations).toEqual([]);
  });

  it(`keeps every promise over ${sizeOf('CHAOS_RESTART_N', 300)} generations killed three times`, async () => {
    const report = await runChaos({
      n: sizeOf('CHAOS_RESTART_N', 300),
      restarts: 3,
      seed: sizeOf('CHAOS_SEED', 1) + 1,
      log,
    });
    console.log(formatReport(report));
    expect(report.violations).toEqual([]);
  });
});
