// Shared helpers for the end-to-end tests: they drive Axon only through the real
// matrix-js-sdk (and, for the raw checks, its HTTP layer).
import "./polyfill.mjs";
import * as sdk from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";

export const baseUrl = process.env.AXON_E2E_BASE_URL;
if (!baseUrl) throw new Error("AXON_E2E_BASE_URL is not set (run tests/e2e/js.sh)");

// Quiet the SDK's logger: test output should be the test runner's. Its child loggers are
// set to debug when made but copy the root's methodFactory, so warnings and errors only.
sdkLogger.methodFactory = (method) => (method === "warn" || method === "error" ? console.error.bind(console) : () => {});
sdkLogger.rebuild();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// register runs the spec's user-interactive registration: a first request without auth
// gets 401 with a session and flows, the second completes m.login.dummy in that session.
export async function register(username, password) {
  const c = sdk.createClient({ baseUrl });
  let session;
  try {
    await c.registerRequest({ username, password });
    throw new Error("registration without auth must answer 401 with flows");
  } catch (e) {
    if (e.httpStatus !== 401 || !e.data?.session) throw e;
    session = e.data.session;
    const flows = e.data.flows.map((f) => f.stages.join(","));
    if (!flows.includes("m.login.dummy")) throw new Error("no m.login.dummy flow: " + flows);
  }
  const res = await c.registerRequest({
    username, password, initial_device_display_name: "e2e",
    auth: { type: "m.login.dummy", session },
  });
  return res;
}

export async function login(username, password) {
  const c = sdk.createClient({ baseUrl });
  return c.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: username }, password });
}

export function clientFor(creds) {
  return sdk.createClient({
    baseUrl, userId: creds.user_id, accessToken: creds.access_token, deviceId: creds.device_id,
    timelineSupport: true,
  });
}

// startAndSync starts the SDK's /sync loop and resolves when the first sync is done.
export async function startAndSync(client) {
  const ready = new Promise((resolve, reject) => {
    const onSync = (state, _prev, data) => {
      if (state === "PREPARED" || state === "SYNCING") { client.off(sdk.ClientEvent.Sync, onSync); resolve(); }
      if (state === "ERROR") { client.off(sdk.ClientEvent.Sync, onSync); reject(data?.error ?? new Error("sync error")); }
    };
    client.on(sdk.ClientEvent.Sync, onSync);
  });
  // The incremental syncs' filter: without a timeline limit the server's default (10)
  // applies, and a sync that finds more new events than that (a burst behind a busy event
  // log, e.g. the polylith's Kafka on a loaded machine) is "limited": the SDK skips the gap,
  // which the scenario would count as messages /sync never delivered.
  const filter = new sdk.Filter(client.getUserId());
  filter.setTimelineLimit(1000);
  // Detached: local echoes stay out of the live timeline, so it shows the server's order.
  await client.startClient({ initialSyncLimit: 20, lazyLoadMembers: true, filter, pendingEventOrdering: sdk.PendingEventOrdering.Detached });
  await ready;
}

// waitFor polls cond until it is true or the deadline passes.
export async function waitFor(what, cond, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(25);
  }
  throw new Error("timed out waiting for " + what);
}

// allMessages pages /messages backwards from the end of the room and returns its
// m.room.message events oldest first.
export async function allMessages(client, roomId) {
  const out = [];
  let from = null;
  for (let i = 0; i < 100; i++) {
    const res = await client.createMessagesRequest(roomId, from, 50, sdk.Direction.Backward);
    for (const ev of res.chunk) if (ev.type === "m.room.message") out.push(ev);
    if (!res.end || res.chunk.length === 0) break;
    from = res.end;
  }
  return out.reverse();
}

export { sdk };
