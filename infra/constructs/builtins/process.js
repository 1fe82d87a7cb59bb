// `node:process` for the function bundles (see http.js): its ESM facade reads the lazy
// `allowedNodeEnvironmentFlags` getter, which builds the set of every flag Node accepts.
module.exports = process.getBuiltinModule('node:process');
