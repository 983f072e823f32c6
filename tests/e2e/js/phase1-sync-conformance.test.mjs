// Issue 11, item 8, as matrix-js-sdk sees it: the initial /sync carries m.push_rules in
// account_data (the SDK's push processor needs it), and events served by /sync, /messages,
// /context and /event carry unsigned.membership (spec 1.11), the reader's membership at
// the event — "leave" for the history from before they joined.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register, clientFor, startAndSync, waitFor, sdk } from "./lib.mjs";

const run = Date.now().toString(36);
const password = "correct horse battery staple";

test("initial sync push rules and unsigned.membership through matrix-js-sdk", { timeout: 60000 }, async (t) => {
  const dave = clientFor(await register("dave" + run, password));
  const erin = clientFor(await register("erin" + run, password));
  t.after(() => { dave.stopClient(); erin.stopClient(); });

  // The raw initial /sync: m.push_rules with the server-default rules.
  const initial = await erin.http.authedRequest(sdk.Method.Get, "/sync", { timeout: "0" });
  const pushRules = initial.account_data.events.find((e) => e.type === "m.push_rules");
  assert.ok(pushRules, "m.push_rules in the initial sync's account_data");
  assert.ok(pushRules.content.global.override.some((r) => r.rule_id === ".m.rule.master"), "server-default override rules");
  assert.ok(pushRules.content.global.underride.some((r) => r.rule_id === ".m.rule.message"), "server-default underride rules");

  const { room_id: roomId } = await dave.createRoom({ preset: "public_chat", name: "membership " + run });
  const before = (await dave.sendMessage(roomId, { msgtype: "m.text", body: "before erin" })).event_id;

  await startAndSync(erin);
  assert.ok(erin.pushRules?.global?.override?.length > 0, "the SDK has push rules after its first sync");
  const seen = new Map();
  erin.on(sdk.ClientEvent.Event, (ev) => { if (ev.getId()?.startsWith("$")) seen.set(ev.getId(), ev); });
  await erin.joinRoom(roomId);
  const after = (await dave.sendMessage(roomId, { msgtype: "m.text", body: "with erin" })).event_id;
  await waitFor("erin's /sync delivers the message", () => seen.has(after));
  assert.equal(seen.get(after).getUnsigned().membership, "join", "/sync timeline: joined at the event");

  // /messages: the history from before erin joined says leave, her join and later say join.
  const page = await erin.createMessagesRequest(roomId, null, 50, sdk.Direction.Backward);
  const byId = new Map(page.chunk.map((e) => [e.event_id, e]));
  assert.equal(byId.get(before)?.unsigned?.membership, "leave", "/messages: before erin joined");
  assert.equal(byId.get(after)?.unsigned?.membership, "join", "/messages: after erin joined");
  const ownJoin = page.chunk.find((e) => e.type === "m.room.member" && e.state_key === erin.getUserId());
  assert.equal(ownJoin?.unsigned?.membership, "join", "/messages: the join event includes its own change");

  // /event and /context.
  assert.equal((await erin.fetchRoomEvent(roomId, before)).unsigned?.membership, "leave", "/event");
  const ctx = await erin.http.authedRequest(sdk.Method.Get,
    `/rooms/${encodeURIComponent(roomId)}/context/${encodeURIComponent(after)}`, { limit: "4" });
  assert.equal(ctx.event.unsigned?.membership, "join", "/context event");
  for (const e of [...ctx.events_before, ...ctx.events_after]) {
    assert.ok(["join", "leave"].includes(e.unsigned?.membership), `/context ${e.event_id}: ${JSON.stringify(e.unsigned)}`);
  }
  // Dave, joined throughout, reads join everywhere.
  assert.equal((await dave.fetchRoomEvent(roomId, before)).unsigned?.membership, "join", "/event as the creator");
});
