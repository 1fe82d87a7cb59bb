import { describe, expect, it } from 'vitest';
import {
  createFaultRoller,
  FAULT_KINDS,
  type FaultKind,
  FaultSpecError,
  parseFaultSeed,
  parseFaultSpec,
  seededRandom,
} from '#local/simulator/faults.ts';

describe('parseFaultSpec', () => {
  it('reads kind=rate pairs separated by commas', () => {
    expect(parseFaultSpec('create5xx=0.1,poll429=1,slow=0')).toEqual({
      create5xx: 0.1,
      poll429: 1,
      slow: 0,
    });
  });

  it('accepts every documented kind', () => {
    const spec = FAULT_KINDS.map((kind) => `${kind}=0.5`).join(',');

    expect(Object.keys(parseFaultSpec(spec))).toEqual([...FAULT_KINDS]);
  });

  it('ignores white space around items and around the equals sign', () => {
    expect(parseFaultSpec(' image404 = .25 , taskFailed=1. ')).toEqual({
      image404: 0.25,
      taskFailed: 1,
    });
  });

  it.each(['', '   '])('treats %j as no faults', (spec) => {
    expect(parseFaultSpec(spec)).toEqual({});
  });

  it.each([
    ['an unknown kind', 'explode=0.1', /Unknown fault kind "explode"/],
    ['a kind in the wrong case', 'Create5xx=0.1', /Unknown fault kind/],
    ['a rate above 1', 'create5xx=1.5', /from 0 to 1/],
    ['a negative rate', 'create5xx=-0.1', /from 0 to 1/],
    ['a rate that is not a number', 'create5xx=often', /from 0 to 1/],
    ['a hexadecimal rate', 'create5xx=0x1', /from 0 to 1/],
    ['an exponent', 'create5xx=1e-1', /from 0 to 1/],
    ['an item without a rate', 'create5xx', /Malformed --faults item "create5xx"/],
    ['an empty rate', 'create5xx=', /Malformed/],
    ['an empty kind', '=0.5', /Malformed/],
    ['two equals signs', 'create5xx=0.1=0.2', /Malformed/],
    ['a trailing comma', 'create5xx=0.1,', /Malformed/],
    ['a repeated kind', 'slow=0.1,slow=0.2', /"slow" is given twice/],
  ])('throws FaultSpecError for %s', (_name, spec, message) => {
    expect(() => parseFaultSpec(spec)).toThrow(FaultSpecError);
    expect(() => parseFaultSpec(spec)).toThrow(message);
  });

  it('names its error class so callers can route on it', () => {
    const error = catchError(() => parseFaultSpec('nope=1'));

    expect(error).toBeInstanceOf(FaultSpecError);
    expect(error.name).toBe('FaultSpecError');
  });
});

describe('parseFaultSeed', () => {
  it.each([
    ['1', 1],
    [' 42 ', 42],
    ['-7', -7],
  ])('reads %j as %i', (text, seed) => {
    expect(parseFaultSeed(text)).toBe(seed);
  });

  it.each(['', 'abc', '1.5', '1e400'])('throws FaultSpecError for %j', (text) => {
    expect(() => parseFaultSeed(text)).toThrow(FaultSpecError);
  });
});

describe('seededRandom', () => {
  it('gives the same sequence for the same seed and another for another seed', () => {
    const take = (seed: number) => Array.from({ length: 20 }, seededRandom(seed));

    expect(take(1)).toEqual(take(1));
    expect(take(2)).not.toEqual(take(1));
  });

  it('answers numbers in [0, 1) spread over the whole range', () => {
    const values = Array.from({ length: 10_000 }, seededRandom(9));
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;

    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
  });
});

describe('createFaultRoller', () => {
  const kinds: FaultKind[] = ['poll5xx', 'poll429', 'pollMalformed', 'slow'];

  function run(seed: number, rolls = 200): string[] {
    const roller = createFaultRoller({ poll5xx: 0.2, poll429: 0.3, slow: 0.1 }, seed);
    return Array.from({ length: rolls }, () => [...roller.roll(kinds)].join('+'));
  }

  it('injects the same faults for the same seed and request sequence', () => {
    expect(run(7)).toEqual(run(7));
  });

  it('injects other faults for another seed', () => {
    expect(run(8)).not.toEqual(run(7));
  });

  it('fires a fault at rate 1 on every roll and never at rate 0 or without a rate', () => {
    const roller = createFaultRoller({ image404: 1, imageTruncated: 0 });

    for (let i = 0; i < 100; i++) {
      expect([...roller.roll(['image404', 'imageTruncated', 'slow'])]).toEqual(['image404']);
    }
  });

  it('fires a fault at roughly its rate', () => {
    const roller = createFaultRoller({ create5xx: 0.25 }, 3);
    let fired = 0;
    for (let i = 0; i < 4000; i++) if (roller.roll(['create5xx']).has('create5xx')) fired++;

    expect(fired / 4000).toBeGreaterThan(0.22);
    expect(fired / 4000).toBeLessThan(0.28);
  });

  it('draws for a configured kind whether or not it fires, so the sequence depends only on the requests', () => {
    const always = createFaultRoller({ poll5xx: 1, slow: 0.5 }, 11);
    const rarely = createFaultRoller({ poll5xx: 0.01, slow: 0.5 }, 11);
    const slowWhenAlways = Array.from({ length: 50 }, () => always.roll(kinds).has('slow'));
    const slowWhenRarely = Array.from({ length: 50 }, () => rarely.roll(kinds).has('slow'));

    expect(slowWhenAlways).toEqual(slowWhenRarely);
    expect(new Set(slowWhenAlways).size).toBe(2);
  });
});

function catchError(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}
