// Issue 11, items 1 and 3, as matrix-js-sdk sees them: a username with capitals registers
// and logs in as the lower-cased user ID; rooms made without room_version get the default
// (10, global.default_room_version), where the SDK's setPowerLevel (which lists the
// creator in users, the pre-12 way) works; a v12 room on request follows v12's rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register, login, clientFor, sdk, baseUrl } from "./lib.mjs";

const run = Date.now().toString(36);
const password = "correct horse battery staple";

test("capitalised usernames and the default room version through matrix-js-sdk", { timeout: 60000 }, async () => {
  const creds = await register("Carol" + run, password);
  const server = creds.user_id.slice(creds.user_id.indexOf(":") + 1);
  const carolId = `@carol${run}:${server}`;
  assert.equal(creds.user_id, carolId, "registration lower-cases the localpart");

  // Login with the capitalised name: identifier.user (localpart and full ID) and the
  // older top-level user.
  const anon = sdk.createClient({ baseUrl });
  const byIdentifier = await login("CAROL" + run.toUpperCase(), password);
  assert.equal(byIdentifier.user_id, carolId);
  const byFullId = await login(`@Carol${run}:${server}`, password);
  assert.equal(byFullId.user_id, carolId);
  const legacy = await anon.loginRequest({ type: "m.login.password", user: "cArOl" + run, password });
  assert.equal(legacy.user_id, carolId);
  const carol = clientFor(byIdentifier);
  assert.equal((await carol.whoami()).user_id, carolId, "whoami says the lower-cased ID");

  // The default room version, advertised and used.
  const caps = await carol.getCapabilities();
  assert.equal(caps["m.room_versions"]?.default, "10");
  const { room_id: roomId } = await carol.createRoom({ preset: "private_chat", name: "versions " + run });
  const create = await carol.getStateEvent(roomId, "m.room.create", "");
  assert.equal(create.room_version, "10");
  let pl = await carol.getStateEvent(roomId, "m.room.power_levels", "");
  assert.equal(pl.users[carolId], 100, "the creator is listed in users before v12");
  // The SDK's setPowerLevel sends the users map with the creator in it.
  const other = `@someone${run}:${server}`;
  await carol.setPowerLevel(roomId, other, 50);
  await carol.setPowerLevel(roomId, carolId, 100);
  pl = await carol.getStateEvent(roomId, "m.room.power_levels", "");
  assert.equal(pl.users[other], 50);
  assert.equal(pl.users[carolId], 100);

  // Every known version can still be asked for; v12 applies its own rules.
  for (const v of ["1", "9", "11", "12"]) {
    const { room_id: id } = await carol.createRoom({ room_version: v });
    assert.equal((await carol.getStateEvent(id, "m.room.create", "")).room_version, v);
    if (v === "12") {
      await assert.rejects(carol.setPowerLevel(id, carolId, 100), (e) => e.httpStatus === 403,
        "a v12 creator may not be listed in users");
      await carol.setPowerLevel(id, other, 50);
    }
  }
  carol.stopClient();
});
