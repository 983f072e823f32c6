// Device lists through matrix-js-sdk's Rust crypto (WebAssembly): alice and bob share an
// encrypted room; bob logs in on a second device, whose client uploads its keys; alice's
// client learns of that device from her /sync's device_lists.changed (topic 7, keyserver →
// syncapi) and fetches bob's keys again on its own — the test never queries for her. When
// bob's second device logs out, alice's client drops it the same way. GET /keys/changes
// between two of alice's sync tokens names bob too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register, login, clientFor, startAndSync, waitFor, sdk } from "./lib.mjs";

const suffix = Date.now().toString(36);

test("a new device of bob reaches alice's client through device_lists", async () => {
  const aliceCreds = await register("dl_alice_" + suffix, "pw-alice-dl");
  const bobCreds = await register("dl_bob_" + suffix, "pw-bob-dl");
  const alice = clientFor(aliceCreds);
  const bob = clientFor(bobCreds);
  let bob2;
  try {
    await alice.initRustCrypto({ useIndexedDB: false });
    await bob.initRustCrypto({ useIndexedDB: false });
    await startAndSync(alice);
    await startAndSync(bob);
    const { room_id: roomId } = await alice.createRoom({
      invite: [bob.getUserId()],
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await waitFor("bob's invite", () => bob.getRoom(roomId)?.getMyMembership() === "invite");
    await bob.joinRoom(roomId);
    await waitFor("bob joined, as alice sees it", () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === "join");

    const bobDevices = async () => {
      const m = await alice.getCrypto().getUserDeviceInfo([bob.getUserId()]); // no download: what alice's client knows
      return [...(m.get(bob.getUserId())?.keys() ?? [])];
    };
    // Alice's client tracks bob (a member of an encrypted room) and fetches his first device.
    await waitFor("bob's first device at alice", async () => (await bobDevices()).includes(bob.getDeviceId()), 30000);

    const tokenBefore = alice.store.getSyncToken();
    const bob2Creds = await login(bobCreds.user_id, "pw-bob-dl");
    bob2 = clientFor(bob2Creds);
    await bob2.initRustCrypto({ useIndexedDB: false });
    await startAndSync(bob2); // uploads the new device's keys
    await waitFor("bob's second device at alice, through device_lists", async () =>
      (await bobDevices()).includes(bob2Creds.device_id), 30000);

    const tokenAfter = alice.store.getSyncToken();
    assert.ok(tokenBefore && tokenAfter);
    const changes = await alice.http.authedRequest(sdk.Method.Get, "/keys/changes", { from: tokenBefore, to: tokenAfter });
    assert.ok(changes.changed.includes(bob.getUserId()), "keys/changes names bob: " + JSON.stringify(changes));
    assert.deepEqual(changes.left, []);

    // The second device logs out: its keys go, and alice's client forgets it.
    bob2.stopClient();
    await bob2.logout(true);
    bob2 = undefined;
    await waitFor("bob's second device gone at alice", async () => !(await bobDevices()).includes(bob2Creds.device_id), 30000);
  } finally {
    alice.stopClient();
    bob.stopClient();
    bob2?.stopClient();
  }
});
