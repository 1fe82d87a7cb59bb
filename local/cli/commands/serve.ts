import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { integerOption, UsageError, untilSignal } from '#local/cli/args.ts';
import type { Command } from '#local/cli/main.ts';
import { type IamMode, startLocalRuntime } from '#local/runtime/runtime.ts';
import { parseFaultSpec } from '#local/simulator/faults.ts';

const usage = `Usage: spark-t2i serve [options]

Runs the whole pipeline on this machine: the HTTP API, local S3 and DynamoDB servers with the
stack's buckets and tables, the schedules of the stack config, the state machine synthesized
from the CDK stack, and (unless --spark-base-url names a real provider) the Spark simulator.
No AWS account, Docker or network needed.

Options:
  --host HOST              address of every server (default 127.0.0.1)
  --port PORT              port of the HTTP API, 0 = any free port (default 3000)
  --data-dir DIR           where everything persists (default .spark-t2i)
  --time-scale F           every Wait and retry interval lasts F times as long (default 1)
  --sim-latency-ms MS      simulator generation time (default 3000)
  --sim-faults SPEC        simulator faults, e.g. "poll5xx=0.1,imageTruncated=0.05"
  --sim-fault-seed N       seed of the simulator's fault dice (default 1)
  --sim-max-concurrent N   simulator answers 429 beyond N unfinished tasks (default 0 = no limit)
  --spark-base-url URL     a real provider instead of the simulator (key from env SPARK_API_KEY)
  --config FILE            stack config instead of ./spark-t2i.config.json (schedules, polling, limits)
  --max-environments N     processes of one function at most (default 8): the local stand-in for
                           the account's concurrency; beyond it an invocation waits for one
  --from-source            run the functions from their sources, not the bundles cdk synth builds:
                           a quicker start after an edit, but not what deploys (no minifier, no
                           exec wrapper); every run that proves something uses the bundles
  --iam off                IAM not enforced on the local AWS endpoints (debugging only; the
                           default, enforced, authorises every call against the stack's policies)
  --iam-audit FILE         append every IAM decision to FILE as a JSON line (what each grant is
                           used for)
  -h, --help               show this help

Environment: SPARK_T2I_API_KEYS="owner:key,owner2:key2" registers these API keys; without it one
key is made for owner "local", printed once, and kept in <data-dir>/local-api-key.

When ready it writes <data-dir>/endpoints.json and prints a line beginning "ready".
SIGINT/SIGTERM stop it; unfinished generations are carried on by the next start.`;

/** How long a signalled runtime may take to close before it exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the whole pipeline locally (also: npm start)',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string' },
        'data-dir': { type: 'string', default: '.spark-t2i' },
        'time-scale': { type: 'string' },
        'sim-latency-ms': { type: 'string' },
        'sim-faults': { type: 'string' },
        'sim-max-concurrent': { type: 'string' },
        'sim-fault-seed': { type: 'string' },
        'spark-base-url': { type: 'string' },
        config: { type: 'string' },
        'from-source': { type: 'boolean', default: false },
        'max-environments': { type: 'string' },
        iam: { type: 'string', default: 'enforced' },
        'iam-audit': { type: 'string' },
      },
    });
    const timeScale = values['time-scale'] === undefined ? 1 : Number(values['time-scale']);
    if (!(Number.isFinite(timeScale) && timeScale > 0)) {
      throw new UsageError(`--time-scale must be a number above 0, got "${values['time-scale']}"`);
    }
    if (values['sim-faults'] !== undefined) {
      try {
        parseFaultSpec(values['sim-faults']);
      } catch (error) {
        throw new UsageError(`--sim-faults: ${(error as Error).message}`);
      }
    }
    const started = Date.now();
    const runtime = await startLocalRuntime({
      dataDir: values['data-dir'],
      host: values.host,
      port: integerOption('port', values.port, 3000, { min: 0, max: 65_535 }),
      timeScale,
      simLatencyMs: integerOption('sim-latency-ms', values['sim-latency-ms'], 3000, { min: 0 }),
      simMaxConcurrent: integerOption('sim-max-concurrent', values['sim-max-concurrent'], 0, {
        min: 0,
      }),
      ...(values['sim-faults'] !== undefined && { simFaults: values['sim-faults'] }),
      ...(values['sim-fault-seed'] !== undefined && {
        simFaultSeed: integerOption('sim-fault-seed', values['sim-fault-seed'], 1),
      }),
      ...(values['spark-base-url'] !== undefined && { sparkBaseUrl: values['spark-base-url'] }),
      ...(process.env.SPARK_T2I_API_KEYS && { apiKeys: process.env.SPARK_T2I_API_KEYS }),
      ...(values.config !== undefined && { configFile: values.config }),
      fromSource: values['from-source'],
      iam: iamOption(values.iam),
      ...(values['iam-audit'] !== undefined && { iamAuditFile: values['iam-audit'] }),
      maxEnvironments: integerOption('max-environments', values['max-environments'], 8, {
        min: 1,
      }),
      // Lets several data dirs (tests, benchmarks) share one synthesis cache.
      ...(process.env.SPARK_T2I_CACHE_DIR && { cacheDir: process.env.SPARK_T2I_CACHE_DIR }),
      log: (line) => console.error(line),
    });
    const { endpoints } = runtime;
    const keyPath = join(runtime.dataDir, 'local-api-key');
    const keyFile = relative(process.cwd(), keyPath) || 'local-api-key';
    // The curl example reads the key by absolute path, so it works from any directory.
    const keyShown = runtime.apiKeyCreated ? runtime.apiKey : `$(cat ${shellQuoted(keyPath)})`;
    console.log(`API        ${endpoints.api}`);
    console.log(
      runtime.apiKeyCreated
        ? `API key    ${runtime.apiKey}  (owner ${runtime.apiKeyOwner}; shown once, kept in ${keyFile})`
        : `API key    in ${keyFile} (owner ${runtime.apiKeyOwner})`,
    );
    console.log(
      `S3         ${endpoints.s3.endpoint}  input ${endpoints.s3.inputBucket}, images ${endpoints.s3.outputBucket}`,
    );
    console.log(`DynamoDB   ${endpoints.dynamodb.endpoint}  table ${endpoints.dynamodb.tableName}`);
    console.log(
      `SQS        ${endpoints.sqs.endpoint}  queues ${Object.keys(endpoints.sqs.queues).join(', ')}`,
    );
    console.log(
      `Spark      ${endpoints.spark.baseUrl}${endpoints.spark.simulated ? '  (simulator)' : ''}`,
    );
    console.log(
      endpoints.functions.mode === 'bundles'
        ? `Functions  the synthesized bundles, in ${endpoints.functions.assets}`
        : 'Functions  from source (--from-source: not what deploys)',
    );
    console.log(
      endpoints.iam === 'enforced'
        ? 'IAM        enforced: every AWS call is authorised against the stack’s policies'
        : 'IAM        off (--iam off: not what deploys)',
    );
    if (runtime.resumed.length > 0)
      console.log(`Resumed    ${runtime.resumed.length} unfinished generation(s)`);
    console.log('');
    console.log('Try:');
    console.log(
      `  curl -s -X POST ${endpoints.api}/generations -H "Authorization: Bearer ${keyShown}" -H 'Content-Type: application/json' -d '{"prompt":"a lighthouse at dawn"}'`,
    );
    console.log(`  curl -s ${endpoints.api}/generations -H "Authorization: Bearer ${keyShown}"`);
    console.log('');
    console.log(
      `ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${endpoints.api} (endpoints in ${runtime.dataDir}/endpoints.json)`,
    );
    await untilSignal();
    console.error('stopping…');
    // Every execution and record is on disk and resumed by the next start, so a shutdown held up
    // (a function mid-call, a client keeping a connection open) is cut short rather than waited
    // for; a second signal stops at once.
    const forced = setTimeout(() => {
      console.error(`stopped after ${SHUTDOWN_GRACE_MS / 1000} s without waiting for the rest`);
      process.exit(0);
    }, SHUTDOWN_GRACE_MS);
    forced.unref();
    void untilSignal().then(() => process.exit(130));
    await runtime.close();
    return 0;
  },
};

/** A path as one shell word, whatever it contains. */
function shellQuoted(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}

function iamOption(value: string | undefined): IamMode {
  if (value === 'enforced' || value === 'off') return value;
  throw new UsageError(`--iam takes enforced or off, not ${value}`);
}
