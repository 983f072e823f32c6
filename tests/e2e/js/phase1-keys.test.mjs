// End-to-end encryption keys through matrix-js-sdk's Rust crypto (WebAssembly): alice's
// client uploads its device keys and one-time keys on its own (/keys/upload), and bob sees
// her device, with the ed25519 key her client reports, in /keys/query; a claim hands him one
// of her one-time keys, signed by that device, and the next claim another.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register, clientFor, startAndSync, waitFor, sdk } from "./lib.mjs";

const suffix = Date.now().toString(36);

test("matrix-js-sdk uploads keys, another user queries and claims them", async () => {
  const aliceCreds = await register("keys_alice_" + suffix, "pw-alice-keys");
  const bobCreds = await register("keys_bob_" + suffix, "pw-bob-keys");
  const alice = clientFor(aliceCreds);
  const bob = clientFor(bobCreds);
  try {
    await alice.initRustCrypto({ useIndexedDB: false });
    await startAndSync(alice);
    const own = await alice.getCrypto().getOwnDeviceKeys();
    assert.ok(own.ed25519, "the client has an ed25519 key");

    const query = () => bob.http.authedRequest(sdk.Method.Post, "/keys/query", undefined,
      { device_keys: { [alice.getUserId()]: [] }, timeout: 10000 });
    let dev;
    await waitFor("alice's device keys in bob's /keys/query", async () => {
      const res = await query();
      dev = res.device_keys?.[alice.getUserId()]?.[alice.getDeviceId()];
      return !!dev;
    });
    assert.equal(dev.keys["ed25519:" + alice.getDeviceId()], own.ed25519);
    assert.equal(dev.keys["curve25519:" + alice.getDeviceId()], own.curve25519);
    assert.ok(dev.signatures[alice.getUserId()]["ed25519:" + alice.getDeviceId()], "signed by the device");

    // Her client uploads one-time keys as /sync reports them missing.
    let counts;
    await waitFor("alice's one-time keys", async () => {
      const res = await alice.http.authedRequest(sdk.Method.Post, "/keys/upload", undefined, {});
      counts = res.one_time_key_counts;
      return counts.signed_curve25519 > 0;
    });
    const claim = await bob.http.authedRequest(sdk.Method.Post, "/keys/claim", undefined,
      { one_time_keys: { [alice.getUserId()]: { [alice.getDeviceId()]: "signed_curve25519" } } });
    const keys = claim.one_time_keys[alice.getUserId()][alice.getDeviceId()];
    const [keyId] = Object.keys(keys);
    assert.match(keyId, /^signed_curve25519:/);
    assert.ok(keys[keyId].signatures[alice.getUserId()]["ed25519:" + alice.getDeviceId()]);
    // A claimed key is gone: the next claim gets another one.
    const again = await bob.http.authedRequest(sdk.Method.Post, "/keys/claim", undefined,
      { one_time_keys: { [alice.getUserId()]: { [alice.getDeviceId()]: "signed_curve25519" } } });
    const [nextId] = Object.keys(again.one_time_keys[alice.getUserId()][alice.getDeviceId()]);
    assert.notEqual(nextId, keyId);
  } finally {
    alice.stopClient();
    bob.stopClient();
  }
});
