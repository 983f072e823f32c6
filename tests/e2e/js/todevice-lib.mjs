// Helpers of the to-device restart scenario (phase1-/phase2-todevice-restart.test.mjs).
import { sdk } from "./lib.mjs";

// stateFile is where phase 1 leaves bob's login and tokens for phase 2.
export const stateFile = () => process.env.AXON_E2E_STATE + ".todevice.json";

// rawSync is one /sync of c's device through the SDK's HTTP layer (no sync loop: the test
// controls which tokens are used).
export async function rawSync(c, since) {
  const q = { timeout: "0" };
  if (since) q.since = since;
  return c.http.authedRequest(sdk.Method.Get, "/sync", q);
}

// messagesOf is the `n` of each to-device message of type in a /sync answer.
export const messagesOf = (res, type) => (res.to_device?.events ?? []).filter((e) => e.type === type).map((e) => e.content.n);
