/**
 * The environment of a local function's process: exactly the template's variables for the
 * function, the ones Lambda itself sets, and the twin's endpoints — nothing inherited from the
 * process that runs the twin (a variable of the developer's shell reaches no function, as none
 * reaches a function on AWS).
 */

/** What Lambda sets for a function, beside its own variables (the reserved ones and the rest). */
export interface LambdaSetVariables {
  readonly functionName: string;
  readonly memorySizeMb: number;
  /** The template's `Handler`, `index.handler`. */
  readonly handler: string;
  /** Where the function's code is unpacked (`/var/task` on Lambda). */
  readonly taskRoot: string;
  /** Where the runtime's own modules are (`/var/runtime` on Lambda). */
  readonly runtimeDir: string;
  /** The runtime's modules folder (the managed runtime's SDK), on `NODE_PATH` as on Lambda. */
  readonly runtimeModules: string;
  readonly region: string;
  /** The function's role's session credentials, as Lambda hands them to the function. */
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** `nodejs24.x` */
  readonly runtime: string;
  /** `JSON` when the function's logging format is JSON. */
  readonly logFormat?: string | undefined;
  /** The Runtime API the process takes its invocations from (`host:port`). */
  readonly runtimeApi: string;
}

/**
 * The variables Lambda sets in a function's process (the AWS Lambda developer guide's list of
 * defined runtime environment variables), with local values.
 */
function lambdaSetVariables(lambda: LambdaSetVariables): Record<string, string> {
  const { functionName } = lambda;
  return {
    _HANDLER: lambda.handler,
    AWS_EXECUTION_ENV: `AWS_Lambda_${lambda.runtime}`,
    AWS_REGION: lambda.region,
    AWS_DEFAULT_REGION: lambda.region,
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(lambda.memorySizeMb),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${process.pid}`,
    ...(lambda.logFormat !== undefined && { AWS_LAMBDA_LOG_FORMAT: lambda.logFormat }),
    AWS_LAMBDA_RUNTIME_API: lambda.runtimeApi,
    AWS_ACCESS_KEY_ID: lambda.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: lambda.credentials.secretAccessKey,
    ...(lambda.credentials.sessionToken !== undefined && {
      AWS_SESSION_TOKEN: lambda.credentials.sessionToken,
    }),
    LAMBDA_TASK_ROOT: lambda.taskRoot,
    LAMBDA_RUNTIME_DIR: lambda.runtimeDir,
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    PATH: '/usr/local/bin:/usr/bin:/bin',
    NODE_PATH: [lambda.runtimeModules, lambda.runtimeDir, lambda.taskRoot].join(':'),
  };
}

/**
 * The whole environment: the template's variables first, then what Lambda sets (a function cannot
 * override a reserved variable; Lambda refuses the template), then the twin's own (`local`):
 * service endpoints and the few settings the local runtime documents.
 */
export function functionEnvironment(
  template: Readonly<Record<string, string>>,
  lambda: LambdaSetVariables,
  local: Readonly<Record<string, string>>,
): Record<string, string> {
  return { ...template, ...lambdaSetVariables(lambda), ...local };
}
