#!/usr/bin/env node
// Entry point of the `spark-t2i` CLI. The CLI is TypeScript run by Node's built-in type
// stripping, so it needs the Node 24 that `npm ci` installs into node_modules/.bin; npx and
// npm scripts put that first on PATH.
if (!process.features?.typescript) {
  console.error(
    `spark-t2i: needs Node 24 (this is ${process.version}); run it as "npx spark-t2i" or "npm start" from the project so the project's Node is used`,
  );
  process.exit(1);
}
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
