// CloudFront Functions' runtime (cloudfront-js-2.0), for the emulator's edge
// and TestFunction. One long-lived process: function_edge.py writes one JSON
// request per line on stdin, this answers one JSON line per request on stdout.
//
//   in:  {"id", "fn": {"key", "code"}, "store": {"arn", "version", "items"?,
//         "meta"} | null, "event"}
//   out: {"id", "output"} | {"id", "error", "kind": "execution"|"validation"},
//        each with "logs" (console.log lines) and "ms".
//
// As in cloudfront-js-2.0 (CloudFront Developer Guide, "JavaScript runtime
// 2.0 features"): the code defines `handler(event)` (sync or async);
// `import cf from 'cloudfront'` or `require('cloudfront')` gives `cf.kvs()`
// with get(key, {format: string|json|bytes}) (rejects when the key is
// missing), exists(key) and meta(), bound to the function's key value store;
// the other modules the runtime documents are `crypto` (createHash,
// createHmac), `querystring` and `buffer`. Anything else (fs, http,
// child_process, ...) is refused: "Cannot find module". The code runs in its
// own V8 context, without process, setTimeout or the host's require.
"use strict";

const vm = require("vm");
const readline = require("readline");
const crypto = require("crypto");
const querystring = require("querystring");
const bufferModule = require("buffer");

const TIMEOUT_MS = 1000; // far above CloudFront's ~1 ms compute budget: catches loops only
const compiled = new Map(); // code key -> handler factory
const stores = new Map(); // store arn -> {version, items, meta}
const CALL = new vm.Script("__handler(__event)");

function restrictedCrypto() {
  return {
    createHash: (alg) => crypto.createHash(alg),
    createHmac: (alg, key) => crypto.createHmac(alg, key),
  };
}

function kvsHandle(store) {
  const need = () => {
    if (!store) throw new Error("No key value store is associated with this function");
    return store;
  };
  return {
    async get(key, options) {
      const s = need();
      if (!Object.prototype.hasOwnProperty.call(s.items, key)) {
        throw new Error(`Key ${key} not found`);
      }
      const value = s.items[key];
      const format = (options && options.format) || "string";
      if (format === "json") return JSON.parse(value);
      if (format === "bytes") return Buffer.from(value, "utf8");
      if (format !== "string") throw new Error(`Unknown format ${format}`);
      return value;
    },
    async exists(key) {
      return Object.prototype.hasOwnProperty.call(need().items, key);
    },
    async meta() {
      return Object.assign({}, need().meta);
    },
  };
}

function cloudfrontModule(store) {
  const unsupported = (name) => () => {
    throw new Error(`cf.${name} is not modelled by the emulator`);
  };
  return {
    kvs: () => kvsHandle(store),
    updateRequestOrigin: unsupported("updateRequestOrigin"),
    selectRequestOriginById: unsupported("selectRequestOriginById"),
    createRequestOriginGroup: unsupported("createRequestOriginGroup"),
  };
}

// ES module imports become calls of the restricted require below.
function transform(code) {
  return code
    .replace(/^\s*import\s+\*\s+as\s+([A-Za-z_$][\w$]*)\s+from\s+(['"])([^'"]+)\2\s*;?/gm, "const $1 = require('$3');")
    .replace(/^\s*import\s+([A-Za-z_$][\w$]*)\s+from\s+(['"])([^'"]+)\2\s*;?/gm, "const $1 = require('$3');")
    .replace(/^\s*import\s+\{([^}]*)\}\s+from\s+(['"])([^'"]+)\2\s*;?/gm, (m, names, q, mod) =>
      `const {${names.replace(/\s+as\s+/g, ": ")}} = require('${mod}');`)
    .replace(/^\s*export\s+(default\s+)?/gm, "");
}

function compile(key, code) {
  if (compiled.has(key)) return compiled.get(key);
  const source = `(function (require, console) {\n${transform(code)}\n;return typeof handler === "function" ? handler : undefined;\n})`;
  const script = new vm.Script(source, { filename: "function.js" });
  if (compiled.size > 200) compiled.clear();
  compiled.set(key, script);
  return script;
}

function validate(result) {
  if (result === null || typeof result !== "object") {
    return "The function must return a request or a response object";
  }
  if (Object.prototype.hasOwnProperty.call(result, "statusCode")) {
    const code = result.statusCode;
    if (!Number.isInteger(code) || code < 100 || code > 599) return `Invalid statusCode: ${code}`;
  } else if (typeof result.uri !== "string" || !result.uri.startsWith("/")) {
    return `Invalid uri: ${result.uri}`;
  }
  for (const kind of ["headers", "querystring", "cookies"]) {
    const block = result[kind];
    if (block === undefined) continue;
    if (block === null || typeof block !== "object") return `Invalid ${kind}`;
    for (const [name, entry] of Object.entries(block)) {
      if (entry === null || typeof entry !== "object" || typeof entry.value !== "string") {
        return `Invalid ${kind} entry ${name}: expected {value: string}`;
      }
    }
  }
  return null;
}

async function invoke(message) {
  const logs = [];
  let started = process.hrtime.bigint(); // reset when the handler is called: "ms" is its run time
  const done = (extra) => Object.assign({ id: message.id, logs, ms: Number(process.hrtime.bigint() - started) / 1e6 }, extra);
  let store = null;
  if (message.store) {
    const s = message.store;
    if (s.items) stores.set(s.arn, { version: s.version, items: s.items, meta: s.meta });
    store = stores.get(s.arn);
    if (!store || store.version !== s.version) return done({ error: "store snapshot missing", kind: "internal" });
  }
  const modules = {
    cloudfront: cloudfrontModule(store),
    crypto: restrictedCrypto(),
    querystring,
    buffer: { Buffer: bufferModule.Buffer },
  };
  const requireRestricted = (name) => {
    if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
    throw new Error(`Cannot find module '${name}'`);
  };
  const consoleStub = { log: (...args) => logs.push(args.map(String).join(" ")) };
  consoleStub.info = consoleStub.warn = consoleStub.error = consoleStub.log;
  try {
    const script = compile(message.fn.key, message.fn.code);
    const context = vm.createContext({ Buffer: bufferModule.Buffer });
    const factory = script.runInContext(context, { timeout: TIMEOUT_MS });
    const handler = factory(requireRestricted, consoleStub);
    if (typeof handler !== "function") return done({ error: "The function code does not define handler(event)", kind: "execution" });
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("The function exceeded its compute budget")), TIMEOUT_MS);
    });
    let result;
    try {
      context.__handler = handler;
      context.__event = message.event;
      started = process.hrtime.bigint();
      const call = CALL.runInContext(context, { timeout: TIMEOUT_MS }); // a sync loop stops here
      result = await Promise.race([Promise.resolve(call), timeout]);
    } finally {
      clearTimeout(timer);
    }
    const problem = validate(result);
    if (problem) return done({ error: problem, kind: "validation" });
    const output = JSON.parse(JSON.stringify(result));
    if ("statusCode" in output && output.cookies === undefined) output.cookies = {}; // as TestFunction reports it
    return done({ output });
  } catch (e) {
    return done({ error: String((e && e.message) || e), kind: "execution" });
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let message;
  try {
    message = JSON.parse(line);
  } catch (e) {
    return;
  }
  const answer = await invoke(message);
  process.stdout.write(JSON.stringify(answer) + "\n");
});
lines.on("close", () => process.exit(0));
