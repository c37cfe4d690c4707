// Vitest entry for the official TypeScript conformance suite
// (@durable-streams/server-conformance-tests). The package's own CLI finds no
// test files under vitest 4, so scripts/official-suite.sh copies this file into
// the cache directory where the suite is installed and runs `vitest run` on it.
//
// Env: DS_OFFICIAL_BASE_URL (server root; the suite appends /v1/stream/...),
//      LONG_POLL_TIMEOUT_MS (the target's long-poll timeout, default 500).
//
// The suite's opt-in subscription cases ("Reserved subscription APIs", spec
// §6/§7) run only when DS_OFFICIAL_SUBSCRIPTIONS=1 (they need a target with
// webhooks and local webhook URLs enabled); otherwise vitest reports them as
// skipped.
import { runConformanceTests } from "@durable-streams/server-conformance-tests";

const baseUrl = process.env.DS_OFFICIAL_BASE_URL;
if (!baseUrl) throw new Error("DS_OFFICIAL_BASE_URL is not set");

runConformanceTests({
  baseUrl: baseUrl.replace(/\/+$/, ""),
  longPollTimeoutMs: Number(process.env.LONG_POLL_TIMEOUT_MS ?? 500),
  subscriptions: process.env.DS_OFFICIAL_SUBSCRIPTIONS === "1",
});
