// Interactive verification through matrix-js-sdk's Rust crypto (WebAssembly): alice and
// bob bootstrap cross-signing and share an encrypted room (so each client tracks the
// other's devices); alice asks to verify bob's device (m.key.verification.* as to-device
// messages: arrow 6, topic 3); bob accepts, both run SAS, see the same emoji and confirm.
// Each side then signs the other's master key with its user-signing key
// (/keys/signatures/upload) and sees the other's identity verified; the server shows
// alice's signature of bob's master key to alice only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CryptoEvent, VerificationPhase, VerifierEvent } from "matrix-js-sdk/lib/crypto-api/index.js";
import { register, clientFor, startAndSync, waitFor, sdk } from "./lib.mjs";

const suffix = Date.now().toString(36);

// bootstrap sets up c's cross-signing keys (the first upload needs no password).
async function bootstrap(c) {
  await c.getCrypto().bootstrapCrossSigning({ authUploadDeviceSigningKeys: async (makeRequest) => { await makeRequest(null); } });
  assert.ok(await c.getCrypto().isCrossSigningReady(), c.getUserId() + ": cross-signing ready");
}

// runSas shows the SAS of verifier, remembers its emoji and confirms them.
function runSas(verifier, shown) {
  verifier.on(VerifierEvent.ShowSas, (sas) => {
    shown.push(...sas.sas.emoji.map((e) => e[1]));
    sas.confirm();
  });
  return verifier.verify();
}

test("two clients cross-sign and verify each other with SAS emoji", { timeout: 180000 }, async () => {
  const alice = clientFor(await register("sas_alice_" + suffix, "pw-sas-alice"));
  const bob = clientFor(await register("sas_bob_" + suffix, "pw-sas-bob"));
  try {
    await alice.initRustCrypto({ useIndexedDB: false });
    await bob.initRustCrypto({ useIndexedDB: false });
    await startAndSync(alice);
    await startAndSync(bob);
    await bootstrap(alice);
    await bootstrap(bob);
    const { room_id: roomId } = await alice.createRoom({
      preset: "trusted_private_chat", is_direct: true, invite: [bob.getUserId()],
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await waitFor("bob's invite", () => bob.getRoom(roomId)?.getMyMembership() === "invite");
    await bob.joinRoom(roomId);
    await waitFor("bob joined, as alice sees it", () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === "join");
    for (const [c, other] of [[alice, bob], [bob, alice]]) {
      const st = await c.getCrypto().getUserVerificationStatus(other.getUserId());
      assert.equal(st.isCrossSigningVerified(), false, "not verified before the SAS");
    }

    const received = new Promise((resolve) => bob.on(CryptoEvent.VerificationRequestReceived, resolve));
    const reqA = await alice.getCrypto().requestDeviceVerification(bob.getUserId(), bob.getDeviceId());
    const reqB = await received;
    assert.equal(reqB.otherUserId, alice.getUserId());
    await reqB.accept();
    await waitFor("alice sees bob ready", () => reqA.phase === VerificationPhase.Ready, 30000);
    const verifierA = await reqA.startVerification("m.sas.v1");
    await waitFor("bob sees the SAS start", () => reqB.phase === VerificationPhase.Started && !!reqB.verifier, 30000);
    const shownA = [], shownB = [];
    await Promise.all([runSas(verifierA, shownA), runSas(reqB.verifier, shownB)]);
    assert.equal(shownA.length, 7, "seven emoji");
    assert.deepEqual(shownA, shownB, "both sides showed the same emoji");
    await waitFor("both requests done", () => reqA.phase === VerificationPhase.Done && reqB.phase === VerificationPhase.Done, 30000);

    for (const [c, other] of [[alice, bob], [bob, alice]]) {
      await waitFor(`${c.getUserId()} sees ${other.getUserId()} verified`, async () =>
        (await c.getCrypto().getUserVerificationStatus(other.getUserId())).isCrossSigningVerified(), 30000);
    }
    // The server keeps alice's signature of bob's master key, shown to alice (not to bob).
    const q = (c, u) => c.http.authedRequest(sdk.Method.Post, "/keys/query", undefined, { device_keys: { [u]: [] } });
    const masterSigners = (res, u) => Object.keys(res.master_keys?.[u]?.signatures ?? {});
    await waitFor("alice's signature of bob's master key on the server", async () =>
      masterSigners(await q(alice, bob.getUserId()), bob.getUserId()).includes(alice.getUserId()), 30000);
    assert.ok(!masterSigners(await q(bob, bob.getUserId()), bob.getUserId()).includes(alice.getUserId()),
      "alice's signature of bob's master key is shown to alice only");
  } finally {
    alice.stopClient();
    bob.stopClient();
  }
});
