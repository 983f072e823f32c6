// Cross-signing, secret storage and key backup through matrix-js-sdk's Rust crypto
// (WebAssembly): alice's first login bootstraps cross-signing (the first upload of her
// master key needs no password, as clients expect) and secret storage with a new key
// backup; bob sees her master key in /keys/query; she sends an encrypted message, which
// her client backs up. A new login of alice gets the backup key out of secret storage,
// restores the backup and decrypts that history message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register, login, startAndSync, waitFor, sdk, baseUrl } from "./lib.mjs";

const suffix = Date.now().toString(36);

// clientWithCrypto is a client whose secret storage key comes from keyStore (filled when a
// new key is made, as an application would cache it or ask the user for it).
function clientWithCrypto(creds, keyStore) {
  return sdk.createClient({
    baseUrl, userId: creds.user_id, accessToken: creds.access_token, deviceId: creds.device_id,
    timelineSupport: true,
    cryptoCallbacks: {
      getSecretStorageKey: async ({ keys }) => (keyStore.id && keys[keyStore.id] ? [keyStore.id, keyStore.key] : null),
      cacheSecretStorageKey: (keyId, _info, key) => { keyStore.id = keyId; keyStore.key = key; },
    },
  });
}

test("cross-signing bootstrap, key backup, and a new login restoring history", { timeout: 180000 }, async () => {
  const password = "pw-backup-" + suffix;
  const aliceCreds = await register("backup_alice_" + suffix, password);
  const bobCreds = await register("backup_bob_" + suffix, "pw-bob-" + suffix);
  const keyStore = {};
  const alice = clientWithCrypto(aliceCreds, keyStore);
  const bob = clientWithCrypto(bobCreds, {});
  let alice2;
  try {
    await alice.initRustCrypto({ useIndexedDB: false });
    await startAndSync(alice);
    const crypto = alice.getCrypto();

    // The first upload of her keys goes through without user-interactive auth.
    let uiaAsked = false;
    await crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        try {
          await makeRequest(null);
        } catch (e) {
          if (e.httpStatus !== 401) throw e;
          uiaAsked = true;
          await makeRequest({ type: "m.login.password", session: e.data.session, password,
            identifier: { type: "m.id.user", user: alice.getUserId() } });
        }
      },
    });
    assert.equal(uiaAsked, false, "the first cross-signing upload asked for the password");
    assert.ok(await crypto.isCrossSigningReady(), "cross-signing ready");

    const recoveryKey = await crypto.createRecoveryKeyFromPassphrase();
    await crypto.bootstrapSecretStorage({
      createSecretStorageKey: async () => recoveryKey,
      setupNewSecretStorage: true,
      setupNewKeyBackup: true,
    });
    assert.ok(keyStore.id, "the secret storage key was handed to the application");
    let version;
    await waitFor("alice's key backup active", async () => (version = await crypto.getActiveSessionBackupVersion()) !== null);
    const info = await alice.http.authedRequest(sdk.Method.Get, "/room_keys/version");
    assert.equal(info.version, version);
    assert.equal(info.algorithm, "m.megolm_backup.v1.curve25519-aes-sha2");

    // Bob sees her master key, the one her client made, and not her user-signing key.
    const masterId = await crypto.getCrossSigningKeyId("master");
    const q = await bob.http.authedRequest(sdk.Method.Post, "/keys/query", undefined,
      { device_keys: { [alice.getUserId()]: [] } });
    const master = q.master_keys?.[alice.getUserId()];
    assert.ok(master, "bob sees alice's master key");
    assert.equal(master.keys["ed25519:" + masterId], masterId);
    assert.ok(q.self_signing_keys?.[alice.getUserId()], "bob sees alice's self-signing key");
    assert.equal(q.user_signing_keys?.[alice.getUserId()], undefined);
    // Her device is signed by her self-signing key.
    const ssk = Object.keys(q.self_signing_keys[alice.getUserId()].keys)[0];
    const devSigs = q.device_keys[alice.getUserId()][alice.getDeviceId()].signatures[alice.getUserId()];
    assert.ok(devSigs[ssk], "alice's device carries her self-signing key's signature");

    // An encrypted room with a message in it, backed up by her client.
    const { room_id: roomId } = await alice.createRoom({
      preset: "private_chat", name: "backup " + suffix,
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await waitFor("the room in alice's sync", () => alice.getRoom(roomId)?.hasEncryptionStateEvent());
    const body = "history only the backup can decrypt " + suffix;
    const { event_id: eventId } = await alice.sendMessage(roomId, { msgtype: "m.text", body });
    await waitFor("alice's room key in the backup", async () => {
      const keys = await alice.http.authedRequest(sdk.Method.Get, "/room_keys/keys", { version });
      return Object.keys(keys.rooms?.[roomId]?.sessions ?? {}).length > 0;
    }, 60000);
    const after = await alice.http.authedRequest(sdk.Method.Get, "/room_keys/version");
    assert.ok(after.count >= 1, "the backup counts the key");
    assert.notEqual(after.etag, info.etag, "the etag changed with the key");

    // A new login: the backup key comes out of secret storage; the restore decrypts the
    // history message.
    const creds2 = await login(aliceCreds.user_id, password);
    assert.notEqual(creds2.device_id, aliceCreds.device_id);
    alice2 = clientWithCrypto(creds2, keyStore);
    await alice2.initRustCrypto({ useIndexedDB: false });
    await startAndSync(alice2);
    const crypto2 = alice2.getCrypto();
    await crypto2.loadSessionBackupPrivateKeyFromSecretStorage();
    assert.ok(await crypto2.getSessionBackupPrivateKey(), "the backup key from secret storage");
    await crypto2.checkKeyBackupAndEnable();
    const restored = await crypto2.restoreKeyBackup();
    assert.ok(restored.imported >= 1, `restored ${JSON.stringify(restored)}`);

    await waitFor("the room in the new login's sync", () => !!alice2.getRoom(roomId));
    let ev;
    await waitFor("the history message decrypted by the new login", async () => {
      ev = alice2.getRoom(roomId).getLiveTimeline().getEvents().find((e) => e.getId() === eventId);
      if (!ev) return false;
      if (ev.isDecryptionFailure()) await alice2.decryptEventIfNeeded(ev, { isRetry: true });
      return ev.getClearContent()?.body === body;
    }, 30000);
    assert.equal(ev.getWireType(), "m.room.encrypted", "the message went over the wire encrypted");
    assert.equal(ev.getContent().body, body);
  } finally {
    alice.stopClient();
    bob.stopClient();
    alice2?.stopClient();
  }
});
