// `node:fs/promises` for the function bundles: the `node:fs` substitute takes its subpaths too.
module.exports = process.getBuiltinModule('node:fs/promises');
