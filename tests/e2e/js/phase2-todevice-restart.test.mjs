// Phase 2 of "a to-device message exactly once across a restart" (phase 1:
// phase1-todevice-restart.test.mjs). After the server restarted, bob's /sync from the
// token that came with the first message acknowledges it: only the second message comes,
// once; the /sync after that has none, and the first never comes back.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { clientFor } from "./lib.mjs";
import { stateFile, rawSync, messagesOf } from "./todevice-lib.mjs";

test("to-device messages after a restart: each exactly once", async () => {
  const st = JSON.parse(fs.readFileSync(stateFile(), "utf8"));
  const bob = clientFor(st.bob);
  const res = await rawSync(bob, st.s1);
  assert.deepEqual(messagesOf(res, st.type), [2], "the pending message once, the acknowledged one not again");
  const next = await rawSync(bob, res.next_batch);
  assert.deepEqual(messagesOf(next, st.type), [], "nothing after the second was acknowledged");
  assert.deepEqual(messagesOf(await rawSync(bob, res.next_batch), st.type), [], "still nothing");
});
