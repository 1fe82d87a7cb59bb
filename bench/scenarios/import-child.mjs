// Imports the modules named on the command line (absolute paths or package names) in this fresh
// process and prints how long that took, in ms. Plain JavaScript on purpose: nothing but the
// modules under test is loaded before the clock starts.
const started = performance.now();
for (const name of process.argv.slice(2)) {
  await import(name.startsWith('/') ? new URL(`file://${name}`).href : name);
}
const elapsed = performance.now() - started;
process.stdout.write(`${JSON.stringify({ importMs: elapsed })}\n`);
process.exit(0);
