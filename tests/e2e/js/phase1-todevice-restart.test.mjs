// Phase 1 of "a to-device message exactly once across a restart" (phase 2 is
// phase2-todevice-restart.test.mjs; tests/e2e/js.sh stops and starts the server in
// between — in the monolith the eduserver and the syncapi restart with it). Bob's device
// receives a first message through /sync but never acknowledges it (no /sync with that
// next_batch yet); then alice sends a second one that bob does not fetch. Both are left
// for after the restart, with the tokens, in a state file.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { register, clientFor } from "./lib.mjs";
import { stateFile, rawSync, messagesOf } from "./todevice-lib.mjs";

const suffix = Date.now().toString(36);

test("to-device messages before a restart: one fetched, one pending", async () => {
  const password = "pw-td-" + suffix;
  const aliceCreds = await register("td_alice_" + suffix, password);
  const bobCreds = await register("td_bob_" + suffix, password);
  const alice = clientFor(aliceCreds);
  const bob = clientFor(bobCreds);
  const type = "org.axon.e2e.restart";
  const s0 = (await rawSync(bob)).next_batch;
  const send = (n) => alice.sendToDevice(type, new Map([[bob.getUserId(), new Map([[bob.getDeviceId(), { n }]])]]), `td-${suffix}-${n}`);

  await send(1);
  let s1;
  for (let i = 0; i < 100; i++) { // until the message is in bob's /sync (read your writes makes it quick)
    const res = await rawSync(bob, s0);
    if (messagesOf(res, type).length > 0) {
      assert.deepEqual(messagesOf(res, type), [1]);
      s1 = res.next_batch;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(s1, "the first message reached bob's /sync");
  // Not acknowledged yet: the same since gives it again.
  assert.deepEqual(messagesOf(await rawSync(bob, s0), type), [1]);
  await send(2);
  fs.writeFileSync(stateFile(), JSON.stringify({ bob: bobCreds, type, s1 }));
});
