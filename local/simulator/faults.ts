/**
 * Fault injection for the simulator: `--faults kind=rate,kind=rate` parsed into rates, and a
 * seeded roller so a run with the same spec, seed and request sequence injects the same faults.
 */

/** Every fault the simulator can inject (docs/simulator.md). */
export const FAULT_KINDS = [
  'create5xx',
  'create429',
  'poll5xx',
  'poll429',
  'pollMalformed',
  'taskFailed',
  'image404',
  'imageTruncated',
  'privateUrl',
  'slow',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** The probability (0..1) of each configured fault; absent kinds never fire. */
export type FaultRates = Readonly<Partial<Record<FaultKind, number>>>;

/** The default `--fault-seed`. */
export const DEFAULT_FAULT_SEED = 1;

/** A `--faults` or `--fault-seed` value that cannot be used. */
export class FaultSpecError extends Error {
  override readonly name = 'FaultSpecError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

const RATE_PATTERN = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * Parses `kind=rate,kind=rate` (whitespace around items is ignored; an empty spec means no
 * faults). Throws {@link FaultSpecError} on an unknown kind, a repeated kind, a rate that is not a
 * plain decimal in 0..1, or an item that is not `kind=rate`.
 */
export function parseFaultSpec(spec: string): FaultRates {
  const rates: Partial<Record<FaultKind, number>> = {};
  if (spec.trim() === '') return rates;
  for (const item of spec.split(',')) {
    const [kind, rate] = parseItem(item.trim(), spec);
    if (rates[kind] !== undefined) {
      throw new FaultSpecError(`Fault "${kind}" is given twice in --faults "${spec}"`);
    }
    rates[kind] = rate;
  }
  return rates;
}

function parseItem(item: string, spec: string): [FaultKind, number] {
  const parts = item.split('=');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new FaultSpecError(
      `Malformed --faults item "${item}" in "${spec}"; expected kind=rate, e.g. create5xx=0.1`,
    );
  }
  const [kindText, rateText] = parts.map((part) => part.trim()) as [string, string];
  if (!isFaultKind(kindText)) {
    throw new FaultSpecError(
      `Unknown fault kind "${kindText}" in --faults; known kinds: ${FAULT_KINDS.join(', ')}`,
    );
  }
  const rate = Number(rateText);
  if (!RATE_PATTERN.test(rateText) || !(rate >= 0 && rate <= 1)) {
    throw new FaultSpecError(
      `Fault rate "${rateText}" for ${kindText} must be a decimal number from 0 to 1`,
    );
  }
  return [kindText, rate];
}

export function isFaultKind(value: string): value is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(value);
}

/**
 * Parses `--fault-seed`: any integer (it is reduced to 32 bits for the generator).
 * Throws {@link FaultSpecError} otherwise.
 */
export function parseFaultSeed(text: string): number {
  const seed = Number(text.trim());
  if (text.trim() === '' || !Number.isSafeInteger(seed)) {
    throw new FaultSpecError(`--fault-seed must be an integer, got "${text}"`);
  }
  return seed;
}

/**
 * mulberry32: a tiny, well-mixed 32-bit generator. Good enough to spread faults evenly, and its
 * whole state is one number, so a seed reproduces a run exactly. Answers floats in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return function next(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Decides, request by request, which faults fire. */
export interface FaultRoller {
  /**
   * Rolls each of `kinds` once, in the order given, and answers those that fire. Every kind with
   * a positive rate draws exactly one number whether or not it fires, so the sequence of faults
   * depends only on the sequence of requests; kinds without a rate draw nothing.
   */
  roll(kinds: readonly FaultKind[]): Set<FaultKind>;
}

/** A roller over `rates`, reproducible from `seed`. */
export function createFaultRoller(rates: FaultRates, seed = DEFAULT_FAULT_SEED): FaultRoller {
  const random = seededRandom(seed);
  return {
    roll(kinds) {
      const fired = new Set<FaultKind>();
      for (const kind of kinds) {
        const rate = rates[kind];
        if (rate === undefined || rate <= 0) continue;
        if (random() < rate) fired.add(kind);
      }
      return fired;
    },
  };
}
