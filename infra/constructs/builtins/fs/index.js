// `node:fs` for the function bundles (see ../http.js): its ESM facade reads the lazy
// `ReadStream`/`WriteStream` and `promises` getters, which load the streams and readline.
module.exports = process.getBuiltinModule('node:fs');
