/**
 * The copy-memory scenario's arithmetic, on made-up runs: throughput ratios against the plain
 * copy, the reference upload's ratios, and CPU time per 100 MiB.
 */
import { describe, expect, it } from 'vitest';
import type { CopyRunOutput } from '../../../bench/scenarios/copy-child.ts';
import { findings } from '../../../bench/scenarios/copy-memory.ts';

const MIB = 1024 * 1024;

function run(
  mode: CopyRunOutput['mode'],
  sink: string,
  mibPerSecond: number,
  extra: Partial<CopyRunOutput> = {},
): CopyRunOutput {
  return {
    mode,
    sink,
    execArgv: mode === 'pipeline' ? ['--expose-gc', '--max-semi-space-size=1'] : ['--expose-gc'],
    bytes: 100 * MIB,
    seconds: 100 / mibPerSecond,
    baselineRssBytes: 100 * MIB,
    peakRssBytes: 120 * MIB,
    sampledPeakRssBytes: 120 * MIB,
    maxRssGrewBytes: 0,
    cpuSeconds: 0.8,
    mainThreadCpuSeconds: 0.5,
    serverCpuSeconds: {
      'simulator serving the image': 0.15,
      'local S3 server': 0.7,
      'discarding endpoint': 0.3,
    },
    ...extra,
  };
}

const LOCAL = 'copy step → local S3 server';
const DISCARDING = 'copy step → discarding S3 endpoint';
const PLAIN = 'plain fetch → file';
const PLAIN_PUT = 'plain fetch → HTTP PUT to the discarding endpoint';

function figure(result: ReturnType<typeof findings>, name: string, variant?: string) {
  return result.figures.find((f) => f.name === name && f.variant === variant)?.value;
}

describe('copy-memory findings', () => {
  const runs = [
    run('plain', PLAIN, 200, { cpuSeconds: 0.6, mainThreadCpuSeconds: 0.4 }),
    run('pipeline', LOCAL, 80),
    run('pipeline', DISCARDING, 120, { cpuSeconds: 0.9, mainThreadCpuSeconds: 0.6 }),
    run('plain-put', PLAIN_PUT, 150, { cpuSeconds: 0.7, mainThreadCpuSeconds: 0.45 }),
  ];
  const result = findings(runs, 512, 1, 2);

  it('checks the copy step against the plain file copy, not against the reference upload', () => {
    const discarding = result.targets.find((t) => t.name.includes(DISCARDING));
    expect(discarding?.value).toBe(0.6);
    const local = result.targets.find((t) => t.name.includes(LOCAL));
    expect(local?.value).toBe(0.4);
  });

  it('reports the reference upload against the file copy and the copy step against it', () => {
    expect(figure(result, 'throughput ratio, plain fetch → HTTP PUT / plain fetch → file')).toBe(
      0.75,
    );
    expect(
      figure(result, 'throughput ratio, copy step → discarding endpoint / plain fetch → HTTP PUT'),
    ).toBe(0.8);
  });

  it('reports CPU seconds per 100 MiB, for the process and its main thread', () => {
    expect(figure(result, 'CPU time of the copy process per 100 MiB, median', DISCARDING)).toBe(
      0.9,
    );
    expect(figure(result, 'of it on the main thread, median', PLAIN)).toBe(0.4);
    const half = findings(
      [run('plain', PLAIN, 200, { bytes: 50 * MIB, cpuSeconds: 0.3 })],
      512,
      1,
      2,
    );
    expect(figure(half, 'CPU time of the copy process per 100 MiB, median', PLAIN)).toBe(0.6);
  });

  it("reports each server's CPU time per 100 MiB: the image server's and the destination's", () => {
    expect(
      figure(
        result,
        "CPU time of the simulator serving the image's process per 100 MiB, median",
        PLAIN,
      ),
    ).toBe(0.15);
    expect(
      figure(result, "CPU time of the local S3 server's process per 100 MiB, median", LOCAL),
    ).toBe(0.7);
    expect(
      figure(
        result,
        "CPU time of the discarding endpoint's process per 100 MiB, median",
        PLAIN_PUT,
      ),
    ).toBe(0.3);
    // The file copy has no destination process, and a copy reads only its own destination's.
    expect(
      figure(result, "CPU time of the discarding endpoint's process per 100 MiB, median", PLAIN),
    ).toBeUndefined();
    expect(
      figure(result, "CPU time of the local S3 server's process per 100 MiB, median", DISCARDING),
    ).toBeUndefined();
  });

  it('reports the CPU-bound ceiling: the cores over the CPU time of all of a copy’s processes', () => {
    const name = "CPU-bound ceiling on 2 cores: their time over all the copy's processes' CPU time";
    // The plain copy: 0.6 s of its own and 0.15 s of the image server per 100 MiB.
    expect(figure(result, name, PLAIN)).toBe(266.7);
    // The copy step to the local S3 server: 0.8 + 0.15 + 0.7 s.
    expect(figure(result, name, LOCAL)).toBe(121.2);
    const ratio = 'CPU-bound ceiling, ratio to the plain fetch → file copy’s';
    expect(figure(result, ratio, LOCAL)).toBe(0.455);
    // To the discarding endpoint: 0.9 + 0.15 + 0.3 s.
    expect(figure(result, ratio, DISCARDING)).toBe(0.556);
    const missing = findings(
      [run('plain', PLAIN, 200), run('pipeline', LOCAL, 80, { serverCpuSeconds: {} })],
      512,
      1,
      2,
    );
    expect(figure(missing, name, LOCAL)).toBeNull();
  });

  it('leaves the main-thread figure out where a run could not read it', () => {
    const unknown = findings([run('plain', PLAIN, 200, { mainThreadCpuSeconds: null })], 512, 1, 2);
    expect(figure(unknown, 'of it on the main thread, median', PLAIN)).toBeNull();
  });

  it('keeps the reference upload out of the memory target', () => {
    const grown = findings(
      [...runs, run('plain-put', PLAIN_PUT, 150, { peakRssBytes: 300 * MIB })],
      512,
      1,
      2,
    );
    expect(grown.targets.find((t) => t.name.startsWith('peak RSS'))?.value).toBe(20);
  });
});

describe('copy-memory parameters', () => {
  it('record the node flags each copy’s process was started with', () => {
    const result = findings(
      [
        run('plain', PLAIN, 200, { execArgv: ['--expose-gc', '--max-semi-space-size=1'] }),
        run('pipeline', DISCARDING, 120, {
          execArgv: ['--expose-gc', '--max-semi-space-size=25', '--max-semi-space-size=1'],
        }),
      ],
      512,
      1,
      2,
    );
    expect(result.parameters.nodeFlags).toEqual({
      [LOCAL]: null,
      [DISCARDING]: '--expose-gc --max-semi-space-size=25 --max-semi-space-size=1',
      [PLAIN]: '--expose-gc --max-semi-space-size=1',
      [PLAIN_PUT]: null,
    });
  });
});
