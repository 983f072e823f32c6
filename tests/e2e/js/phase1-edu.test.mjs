// EDUs through matrix-js-sdk (arrow 6 and topic 3): two clients in one room — alice's
// typing shows on bob's client and ends when she sends a message, bob's read receipt of
// alice's message shows on hers, alice's presence and status message show on bob's
// client, and a to-device message alice sends to bob's device (twice with one
// transaction ID) reaches his client exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register, clientFor, startAndSync, waitFor, sleep, sdk } from "./lib.mjs";

const suffix = Date.now().toString(36);

test("matrix-js-sdk sees typing, read receipts, presence and to-device messages", async () => {
  const alice = clientFor(await register("edu_alice_" + suffix, "pw-alice-edu"));
  const bob = clientFor(await register("edu_bob_" + suffix, "pw-bob-edu"));
  const toDevice = [];
  bob.on(sdk.ClientEvent.ToDeviceEvent, (ev) => { if (ev.getType() === "org.axon.e2e.test") toDevice.push(ev); });
  try {
    await startAndSync(alice);
    await startAndSync(bob);
    const { room_id: roomId } = await alice.createRoom({ preset: "public_chat", name: "edu" });
    await bob.joinRoom(roomId);
    await waitFor("bob in the room on alice's client", () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === "join");

    // Typing: alice starts, bob's client shows her typing; she stops, it clears.
    await alice.sendTyping(roomId, true, 30000);
    await waitFor("alice typing on bob's client", () => bob.getRoom(roomId)?.getMember(alice.getUserId())?.typing === true);
    await alice.sendTyping(roomId, false);
    await waitFor("alice's typing ended on bob's client", () => bob.getRoom(roomId)?.getMember(alice.getUserId())?.typing === false);

    // Typing ends when the typer sends a message.
    await alice.sendTyping(roomId, true, 30000);
    await waitFor("alice typing again on bob's client", () => bob.getRoom(roomId)?.getMember(alice.getUserId())?.typing === true);

    // A read receipt: bob reads alice's message, her client shows it.
    const { event_id: eventId } = await alice.sendMessage(roomId, { msgtype: "m.text", body: "read me" });
    await waitFor("alice's typing ended by her message on bob's client", () => bob.getRoom(roomId)?.getMember(alice.getUserId())?.typing === false);
    let ev;
    await waitFor("the message on bob's client", () => (ev = bob.getRoom(roomId)?.findEventById(eventId)));
    await bob.sendReadReceipt(ev, sdk.ReceiptType.Read);
    await waitFor("bob's receipt on alice's client", () =>
      alice.getRoom(roomId)?.getUsersReadUpTo(alice.getRoom(roomId).findEventById(eventId)).includes(bob.getUserId()));

    // Presence: alice's state and status message reach bob's client.
    await alice.setPresence({ presence: "unavailable", status_msg: "e2e " + suffix });
    await waitFor("alice's presence on bob's client", () => {
      const u = bob.getUser(alice.getUserId());
      return u?.presence === "unavailable" && u?.presenceStatusMsg === "e2e " + suffix;
    });
    const got = await bob.getPresence(alice.getUserId());
    assert.equal(got.presence, "unavailable");

    // To-device: one transaction sent twice arrives once.
    const content = new Map([[bob.getUserId(), new Map([[bob.getDeviceId(), { n: 1, nonce: suffix }]])]]);
    await alice.sendToDevice("org.axon.e2e.test", content, "txn-" + suffix);
    await alice.sendToDevice("org.axon.e2e.test", content, "txn-" + suffix);
    await waitFor("the to-device message on bob's client", () => toDevice.length > 0);
    await sleep(1500); // a duplicate would show by now
    assert.equal(toDevice.length, 1);
    assert.equal(toDevice[0].getSender(), alice.getUserId());
    assert.equal(toDevice[0].getContent().nonce, suffix);
  } finally {
    alice.stopClient();
    bob.stopClient();
  }
});
