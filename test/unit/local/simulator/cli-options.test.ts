import { describe, expect, it } from 'vitest';
import { UsageError } from '#local/cli/args.ts';
import { simulatorOptionsFromArgs } from '#local/cli/commands/simulator.ts';

describe('spark-t2i simulator options', () => {
  it('has the documented defaults', () => {
    expect(simulatorOptionsFromArgs([])).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      latencyMs: 3000,
      jitterMs: 0,
      maxConcurrent: 0,
      imagePadBytes: 0,
    });
  });

  it('pads images to --image-pad-bytes', () => {
    expect(simulatorOptionsFromArgs(['--image-pad-bytes', '104857600']).imagePadBytes).toBe(
      104_857_600,
    );
  });

  it.each([['-1'], ['1.5'], ['lots']])('refuses --image-pad-bytes %s', (value) => {
    expect(() => simulatorOptionsFromArgs([`--image-pad-bytes=${value}`])).toThrow(UsageError);
  });

  it('takes --url-ttl-s 0 (every image URL expired at once), and refuses a negative one', () => {
    expect(simulatorOptionsFromArgs([]).urlTtlS).toBe(3600);
    expect(simulatorOptionsFromArgs(['--url-ttl-s', '0']).urlTtlS).toBe(0);
    expect(() => simulatorOptionsFromArgs(['--url-ttl-s=-1'])).toThrow(UsageError);
  });
});
