// Starts the published Node reference server (@durable-streams/server) on
// 127.0.0.1 for cross-checks. Run by scripts/node-server.sh from the cache
// directory where the package is installed, so the import below resolves there.
//
//   node node-server.mjs PORT [DATA_DIR]
//
// Env: LONG_POLL_TIMEOUT_MS (default 500); WEBHOOKS=1 turns on webhook
// subscriptions (§7.1; the package's default is off). Pull-wake
// subscriptions (§7.2) are always on.
// Prints "listening on http://127.0.0.1:PORT" and then
// "stream root: http://127.0.0.1:PORT/v1/stream" once bound. The server keys
// streams by their whole URL path, so any prefix works; /v1/stream is the one
// its own client, the official suite and its reserved control routes
// (/v1/stream/__ds/...) use, so that is the root we hand to harnesses.
import { DurableStreamTestServer } from "@durable-streams/server";

const [portArg = "0", dataDir] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port: ${portArg}`);
  process.exit(2);
}
const longPollTimeout = Number(process.env.LONG_POLL_TIMEOUT_MS ?? 500);

const webhooks = process.env.WEBHOOKS === "1";
const options = { port, host: "127.0.0.1", longPollTimeout, webhooks };
if (dataDir) options.dataDir = dataDir;
const server = new DurableStreamTestServer(options);
const url = (await server.start()).replace(/\/+$/, "");

console.log(`listening on ${url}`);
console.log(`stream root: ${url}/v1/stream`);
console.log(`long-poll timeout: ${longPollTimeout} ms; storage: ${dataDir ? `file (${dataDir})` : "memory"}; webhooks: ${webhooks ? "on" : "off"}`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) process.exit(1);
    stopping = true;
    // stop() waits for open SSE/long-poll responses; do not let it hang us.
    setTimeout(() => process.exit(0), 3000).unref();
    try {
      await server.stop();
    } finally {
      process.exit(0);
    }
  });
}
