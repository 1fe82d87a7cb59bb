/**
 * Node flags that `NODE_OPTIONS` refuses (V8's garbage-collector flags among them), and flags the
 * managed Node runtime's bootstrap sets itself, reach a function's process through an exec
 * wrapper. The bootstrap starts the runtime as
 * `$AWS_LAMBDA_EXEC_WRAPPER <node> <its flags for the memory size> /var/runtime/index.mjs`
 * (`infra/lambda-bootstrap.ts`); the wrapper, a file of the function's bundle, puts the
 * function's `NODE_ARGUMENTS` after the bootstrap's flags, just before the runtime script. For a
 * V8 flag given twice the last one wins, so a function's `--max-semi-space-size` (which the
 * bootstrap sets from the memory size) takes effect only there: in `NODE_OPTIONS`, or before the
 * bootstrap's flags, the bootstrap's value is the one V8 keeps.
 */

import { RuntimeEnv } from '#shared/contracts/environment.ts';

/** The environment variable that holds the flags, separated by spaces. */
export const NODE_ARGUMENTS_VARIABLE = RuntimeEnv.nodeArguments;

/** Lambda's variable naming the script it starts the runtime through. */
export const EXEC_WRAPPER_VARIABLE = RuntimeEnv.execWrapper;

/** The wrapper's file name in the bundle; Lambda unpacks a bundle into `/var/task`. */
export const NODE_ARGUMENTS_WRAPPER_FILE = 'node-arguments.sh';
export const NODE_ARGUMENTS_WRAPPER_PATH = `/var/task/${NODE_ARGUMENTS_WRAPPER_FILE}`;

export const NODE_ARGUMENTS_WRAPPER_SCRIPT = `#!/bin/sh
# Lambda starts the runtime through this script (AWS_LAMBDA_EXEC_WRAPPER): node, the bootstrap's
# flags, and the runtime script last. The function's NODE_ARGUMENTS go just before that script,
# after the bootstrap's flags, because for a flag given twice the last one wins. They are split on
# spaces, one word per flag, never globbed; the bootstrap's own arguments pass as they are.
set -f
node="$1"
shift
# Rebuilds the arguments in place (no arrays in POSIX sh): each one taken off the front and put
# back at the end, the flags put back just before the last. The loop's list is read once, first.
left=$#
for argument in "$@"; do
  shift
  left=$((left - 1))
  if [ "$left" -eq 0 ]; then
    set -- "$@" $${NODE_ARGUMENTS_VARIABLE} "$argument"
  else
    set -- "$@" "$argument"
  fi
done
exec "$node" "$@"
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
