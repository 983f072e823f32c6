// Phase 1 of the core end-to-end scenario (issue: Axon core, §7): two users register,
// create a room, invite, join, exchange 200 messages that each sees exactly once and in
// order through /sync and /messages, see a state change and a redaction, and one leaves.
// What phase 2 (after a server restart) must find again is written to AXON_E2E_STATE.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { register, clientFor, startAndSync, waitFor, allMessages, sdk } from "./lib.mjs";

const N = 200;
const run = Date.now().toString(36);
const state = { run, password: "correct horse battery staple" };

test("core chat scenario through matrix-js-sdk", { timeout: 240000 }, async (t) => {
  const aliceCreds = await register("alice" + run, state.password);
  const bobCreds = await register("bob" + run, state.password);
  assert.match(aliceCreds.user_id, /^@alice/);
  assert.ok(aliceCreds.access_token && aliceCreds.device_id);
  state.alice = aliceCreds.user_id;
  state.bob = bobCreds.user_id;

  const alice = clientFor(aliceCreds);
  const bob = clientFor(bobCreds);
  t.after(() => { alice.stopClient(); bob.stopClient(); });

  // Every event each client's /sync loop delivers (ClientEvent.Event fires once per event
  // in a sync response, own remote echoes included), by event ID, and in arrival order.
  const seen = { alice: new Map(), bob: new Map() };
  const order = { alice: [], bob: [] };
  for (const [name, c] of [["alice", alice], ["bob", bob]]) {
    c.on(sdk.ClientEvent.Event, (ev) => {
      const id = ev.getId();
      if (!id || id.startsWith("~") || ev.getType() !== "m.room.message") return;
      seen[name].set(id, (seen[name].get(id) ?? 0) + 1);
      order[name].push(id);
    });
  }
  await startAndSync(alice);
  await startAndSync(bob);

  const { room_id: roomId } = await alice.createRoom({ preset: "private_chat", name: "E2E room " + run });
  state.roomId = roomId;
  await alice.invite(roomId, bob.getUserId());
  await waitFor("bob's invite through /sync", () => bob.getRoom(roomId)?.getMyMembership() === "invite");
  await bob.joinRoom(roomId);
  await waitFor("alice sees bob joined", () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === "join");

  const sentIds = [];
  for (let i = 0; i < N; i++) {
    const sender = i % 2 === 0 ? alice : bob;
    const res = await sender.sendMessage(roomId, { msgtype: "m.text", body: `message ${i}` });
    assert.match(res.event_id, /^\$/);
    sentIds.push(res.event_id);
  }
  state.sentIds = sentIds;

  for (const [name, c] of [["alice", alice], ["bob", bob]]) {
    await waitFor(`${name} receives all ${N} messages through /sync`, () => sentIds.every((id) => seen[name].has(id)), 60000);
    for (const id of sentIds) assert.equal(seen[name].get(id), 1, `${name} saw ${id} ${seen[name].get(id)} times through /sync`);
    assert.deepEqual(order[name].filter((id) => seen[name].has(id) && sentIds.includes(id)), sentIds, `${name}'s /sync arrival order`);
    // The live timeline holds them in order (paginating back through /messages if /sync was limited).
    const room = c.getRoom(roomId);
    const tl = room.getLiveTimeline();
    while (await c.paginateEventTimeline(tl, { backwards: true, limit: 100 })) { /* page back to the start */ }
    const bodies = tl.getEvents().filter((e) => e.getType() === "m.room.message").map((e) => e.getContent().body);
    assert.deepEqual(bodies, sentIds.map((_, i) => `message ${i}`), `${name}'s timeline order`);
  }

  // /messages, straight from the server: every message once, in order.
  for (const c of [alice, bob]) {
    const msgs = await allMessages(c, roomId);
    assert.deepEqual(msgs.map((e) => e.event_id), sentIds);
  }

  // A state change and a redaction are seen by the other user.
  await alice.setRoomTopic(roomId, "topic " + run);
  await waitFor("bob sees the topic", () => bob.getRoom(roomId)?.currentState.getStateEvents("m.room.topic", "")?.getContent().topic === "topic " + run);
  const redactId = sentIds[10]; // alice's message 10
  state.redactedId = redactId;
  await alice.redactEvent(roomId, redactId);
  await waitFor("bob sees the redaction", () => bob.getRoom(roomId)?.findEventById(redactId)?.isRedacted());
  const raw = await bob.fetchRoomEvent(roomId, redactId);
  assert.deepEqual(raw.content, {}, "redacted content is stripped");

  // Bob leaves; alice sees it.
  await bob.leave(roomId);
  await waitFor("alice sees bob leave", () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === "leave");

  fs.writeFileSync(process.env.AXON_E2E_STATE, JSON.stringify(state));
});
