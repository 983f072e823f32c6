// Phase 2 of the core end-to-end scenario: after the server was stopped and started again,
// nothing of phase 1 is lost — logins, the room, its 200 messages in order, the topic,
// the redaction and bob's leave.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { login, clientFor, startAndSync, allMessages } from "./lib.mjs";

test("nothing is lost across a restart", { timeout: 120000 }, async (t) => {
  const state = JSON.parse(fs.readFileSync(process.env.AXON_E2E_STATE, "utf8"));
  const creds = await login("alice" + state.run, state.password);
  assert.equal(creds.user_id, state.alice);
  const alice = clientFor(creds);
  t.after(() => alice.stopClient());
  await startAndSync(alice);

  const room = alice.getRoom(state.roomId);
  assert.ok(room, "the room is in alice's initial /sync");
  assert.equal(room.currentState.getStateEvents("m.room.topic", "")?.getContent().topic, "topic " + state.run);
  assert.equal(room.getMember(state.bob)?.membership, "leave");

  const msgs = await allMessages(alice, state.roomId);
  assert.deepEqual(msgs.map((e) => e.event_id), state.sentIds, "all 200 messages, once, in order");
  const red = msgs.find((e) => e.event_id === state.redactedId);
  assert.deepEqual(red.content, {}, "the redaction survived the restart");
  for (const e of msgs) if (e.event_id !== state.redactedId) assert.match(e.content.body, /^message \d+$/);

  // Bob can still log in after the restart.
  const bob = await login("bob" + state.run, state.password);
  assert.equal(bob.user_id, state.bob);
});
