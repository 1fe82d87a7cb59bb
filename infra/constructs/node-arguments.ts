/**
 * Node flags that `NODE_OPTIONS` refuses (V8's garbage-collector flags among them) reach a
 * function's process through an exec wrapper. Lambda starts the runtime as
 * `$AWS_LAMBDA_EXEC_WRAPPER <node> <the runtime's arguments>`; the wrapper, a file of the
 * function's bundle, puts the function's `NODE_ARGUMENTS` between node and the rest.
 */

/** The environment variable that holds the flags, separated by spaces. */
export const NODE_ARGUMENTS_VARIABLE = 'NODE_ARGUMENTS';

/** Lambda's variable naming the script it starts the runtime through. */
export const EXEC_WRAPPER_VARIABLE = 'AWS_LAMBDA_EXEC_WRAPPER';

/** The wrapper's file name in the bundle; Lambda unpacks a bundle into `/var/task`. */
export const NODE_ARGUMENTS_WRAPPER_FILE = 'node-arguments.sh';
export const NODE_ARGUMENTS_WRAPPER_PATH = `/var/task/${NODE_ARGUMENTS_WRAPPER_FILE}`;

export const NODE_ARGUMENTS_WRAPPER_SCRIPT = `#!/bin/sh
# Lambda starts the runtime through this script (AWS_LAMBDA_EXEC_WRAPPER): node first, then the
# runtime's own arguments. The function's NODE_ARGUMENTS go in between, one word per flag
# (split on spaces, never globbed).
set -f
node="$1"
shift
exec "$node" $${NODE_ARGUMENTS_VARIABLE} "$@"
`;

/** One word of the shell's splitting: a long flag, with a plain value if any. */
const PLAIN_FLAG = /^--[a-z0-9][a-z0-9-]*(=[A-Za-z0-9._-]+)?$/;

/** The variables a function with these flags needs; refuses a flag the wrapper would mangle. */
export function nodeArgumentsEnvironment(flags: readonly string[]): Record<string, string> {
  for (const flag of flags) {
    if (!PLAIN_FLAG.test(flag)) {
      throw new Error(`Node argument ${JSON.stringify(flag)} is not a plain --flag[=value]`);
    }
  }
  return {
    [EXEC_WRAPPER_VARIABLE]: NODE_ARGUMENTS_WRAPPER_PATH,
    [NODE_ARGUMENTS_VARIABLE]: flags.join(' '),
  };
}
