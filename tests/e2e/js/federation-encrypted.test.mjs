// An encrypted conversation across two federated Axon servers through matrix-js-sdk's Rust
// crypto (WebAssembly). Run by `go run ./tests/federation -e2ee` when AXON_E2E_JS_DIR names
// this directory (tests/e2e/js.sh does it): two monoliths talking over TLS, alice's client
// on A (AXON_E2E_BASE_URL_A), bob's on B (AXON_E2E_BASE_URL_B). Alice makes an encrypted
// room and invites bob; his client fetches her device keys from A through B (arrow 20),
// hers claims his one-time key on B, the room keys travel as to-device messages over
// federation (m.direct_to_device), and each decrypts the other's message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startAndSync, waitFor, sdk } from "./lib.mjs";

const A = process.env.AXON_E2E_BASE_URL_A, B = process.env.AXON_E2E_BASE_URL_B;
const suffix = Date.now().toString(36);

// registerOn registers username on the server at base (m.login.dummy) and returns a client.
async function registerOn(base, username) {
  const c = sdk.createClient({ baseUrl: base });
  let session;
  try {
    await c.registerRequest({ username, password: "pw-" + username });
  } catch (e) {
    if (e.httpStatus !== 401 || !e.data?.session) throw e;
    session = e.data.session;
  }
  const creds = await c.registerRequest({ username, password: "pw-" + username, auth: { type: "m.login.dummy", session } });
  return sdk.createClient({ baseUrl: base, userId: creds.user_id, accessToken: creds.access_token, deviceId: creds.device_id,
    timelineSupport: true });
}

// decrypted waits until c's client holds eventId of roomId decrypted, and returns it.
async function decrypted(c, roomId, eventId) {
  let ev;
  await waitFor(`${c.getUserId()} decrypts ${eventId}`, async () => {
    ev = c.getRoom(roomId)?.findEventById(eventId);
    if (!ev) return false;
    if (ev.isDecryptionFailure()) await c.decryptEventIfNeeded(ev, { isRetry: true });
    return !ev.isDecryptionFailure() && ev.getClearContent()?.body !== undefined;
  }, 60000);
  return ev;
}

test("an encrypted conversation between two federated servers", { timeout: 240000 }, async () => {
  assert.ok(A && B, "AXON_E2E_BASE_URL_A and AXON_E2E_BASE_URL_B are set");
  const alice = await registerOn(A, "fed_alice_" + suffix);
  const bob = await registerOn(B, "fed_bob_" + suffix);
  try {
    await alice.initRustCrypto({ useIndexedDB: false });
    await bob.initRustCrypto({ useIndexedDB: false });
    await startAndSync(alice);
    await startAndSync(bob);
    const { room_id: roomId } = await alice.createRoom({
      preset: "private_chat",
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await alice.invite(roomId, bob.getUserId());
    await waitFor("bob's invite over federation", () => bob.getRoom(roomId)?.getMyMembership() === "invite", 60000);
    await bob.joinRoom(roomId, { viaServers: [roomId.slice(roomId.indexOf(":") + 1)] });
    await waitFor("bob joined, as alice sees it", () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === "join", 60000);
    await waitFor("bob's device known to alice's client", async () =>
      (await alice.getCrypto().getUserDeviceInfo([bob.getUserId()], true)).get(bob.getUserId())?.has(bob.getDeviceId()), 60000);

    const hello = "hello from A " + suffix;
    const { event_id: e1 } = await alice.sendMessage(roomId, { msgtype: "m.text", body: hello });
    const ev1 = await decrypted(bob, roomId, e1);
    assert.equal(ev1.getWireType(), "m.room.encrypted", "alice's message crossed over encrypted");
    assert.equal(ev1.getClearContent().body, hello);

    const reply = "hello from B " + suffix;
    const { event_id: e2 } = await bob.sendMessage(roomId, { msgtype: "m.text", body: reply });
    const ev2 = await decrypted(alice, roomId, e2);
    assert.equal(ev2.getWireType(), "m.room.encrypted", "bob's reply crossed over encrypted");
    assert.equal(ev2.getClearContent().body, reply);
    assert.equal(ev2.getSender(), bob.getUserId());
  } finally {
    alice.stopClient();
    bob.stopClient();
  }
});
