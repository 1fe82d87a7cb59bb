import { parseArgs } from 'node:util';
import { integerOption, UsageError, untilSignal } from '#local/cli/args.ts';
import type { Command } from '#local/cli/main.ts';
import { parseFaultSpec, type SimulatorOptions, startSimulator } from '#local/simulator/index.ts';

const usage = `Usage: spark-t2i simulator [options]

Runs the Spark Text to Image 3.0 simulator: a real HTTP server that speaks the provider's
API (create, poll, image URLs) so the pipeline can run and be tested offline.

Options:
  --host HOST            address to listen on (default 127.0.0.1)
  --port PORT            port, 0 = any free port (default 0)
  --latency-ms MS        time from create to completed (default 3000)
  --jitter-ms MS         +/- uniform jitter on the latency (default 0)
  --max-concurrent N     answer 429 + Retry-After beyond N unfinished tasks (default 0 = unlimited)
  --faults SPEC          inject faults, e.g. "create5xx=0.1,poll429=0.05"; kinds: create5xx,
                         create429, poll5xx, poll429, pollMalformed, taskFailed, image404,
                         imageTruncated, privateUrl, slow
  --fault-seed N         seed of the fault dice, for reproducible runs (default 1)
  --url-ttl-s S          image URLs answer 403 this long after completion (default 3600)
  --api-key KEY          require this Bearer key (default: any Bearer key)
  --slow-ms MS           delay of a "slow" fault (default 30000)
  --data-dir DIR         keep tasks in DIR so a restarted simulator still knows them
  --image-pad-bytes N    pad every PNG to N bytes with an ancillary chunk decoders skip, for
                         benchmarks of large copies (default 0 = no padding)
  -h, --help             show this help

Prints "listening http://HOST:PORT" when ready. Stats: GET /__sim/stats; POST /__sim/reset;
a task's times, outcome, faults and image digest: GET /__sim/tasks/ID (all: GET /__sim/tasks);
every answered request with the faults put into it: GET /__sim/requests.`;

export const simulatorCommand: Command = {
  name: 'simulator',
  summary: 'run the Spark provider simulator',
  usage,
  async run(argv) {
    const simulator = await startSimulator(simulatorOptionsFromArgs(argv));
    console.log(`listening ${simulator.url}`);
    await untilSignal();
    await simulator.close();
    return 0;
  },
};

/** The simulator's options from its command line; a bad value is a {@link UsageError}. */
export function simulatorOptionsFromArgs(argv: readonly string[]): SimulatorOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'latency-ms': { type: 'string' },
      'jitter-ms': { type: 'string' },
      'max-concurrent': { type: 'string' },
      faults: { type: 'string' },
      'fault-seed': { type: 'string' },
      'url-ttl-s': { type: 'string' },
      'api-key': { type: 'string' },
      'slow-ms': { type: 'string' },
      'data-dir': { type: 'string' },
      'image-pad-bytes': { type: 'string' },
    },
  });
  return {
    host: values.host,
    port: integerOption('port', values.port, 0, { min: 0, max: 65_535 }),
    latencyMs: integerOption('latency-ms', values['latency-ms'], 3000, { min: 0 }),
    jitterMs: integerOption('jitter-ms', values['jitter-ms'], 0, { min: 0 }),
    maxConcurrent: integerOption('max-concurrent', values['max-concurrent'], 0, { min: 0 }),
    faults: parseFaults(values.faults),
    faultSeed: integerOption('fault-seed', values['fault-seed'], 1),
    urlTtlS: integerOption('url-ttl-s', values['url-ttl-s'], 3600, { min: 0 }),
    slowMs: integerOption('slow-ms', values['slow-ms'], 30_000, { min: 0 }),
    imagePadBytes: integerOption('image-pad-bytes', values['image-pad-bytes'], 0, { min: 0 }),
    ...(values['api-key'] !== undefined && { apiKey: values['api-key'] }),
    ...(values['data-dir'] !== undefined && { dataDir: values['data-dir'] }),
  };
}

function parseFaults(spec: string | undefined) {
  if (spec === undefined) return undefined;
  try {
    return parseFaultSpec(spec);
  } catch (error) {
    throw new UsageError(`--faults: ${error instanceof Error ? error.message : String(error)}`);
  }
}
