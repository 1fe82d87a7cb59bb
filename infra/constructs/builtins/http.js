// `node:http` for the function bundles, as Node's CommonJS `require` returns it. Bundled ESM
// keeps `import … from 'node:http'`, and Node answers an ESM import of a builtin with a facade
// built by reading every export: that includes `http.WebSocket` and its siblings, getters that
// load all of undici (tens of ms at every cold start, for an API no function uses). Reading the
// module through process.getBuiltinModule builds no facade; the bundler's CommonJS interop reads
// each property only where it is used.
module.exports = process.getBuiltinModule('node:http');
