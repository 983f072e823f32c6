// Issue 14, first slice, as matrix-js-sdk sees it: alice uploads a picture with the SDK's
// uploadContent (POST /_matrix/media/v3/upload) and makes it her avatar; bob, another
// client, downloads it on the authenticated media path the SDK builds
// (mxcUrlToHttp(..., useAuthentication)) with his access token: the same bytes, the same
// type, shown inline; without a token it is 401 M_MISSING_TOKEN.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { register, clientFor } from "./lib.mjs";

const run = Date.now().toString(36);
const password = "correct horse battery staple";

test("upload with matrix-js-sdk, download by another client", { timeout: 60000 }, async () => {
  const alice = clientFor(await register("mediaa" + run, password));
  const bobCreds = await register("mediab" + run, password);
  const bob = clientFor(bobCreds);

  const picture = Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "latin1"), randomBytes(70000)]);
  const { content_uri: mxc } = await alice.uploadContent(picture, { name: "avatar.png", type: "image/png" });
  assert.match(mxc, /^mxc:\/\/[^/]+\/[A-Za-z0-9_-]+$/);
  await alice.setAvatarUrl(mxc);
  const profile = await bob.getProfileInfo(alice.getUserId());
  assert.equal(profile.avatar_url, mxc);

  const url = bob.mxcUrlToHttp(mxc, undefined, undefined, undefined, false, true, true);
  assert.match(url, /\/_matrix\/client\/v1\/media\/download\//);
  const res = await fetch(url, { headers: { Authorization: `Bearer ${bobCreds.access_token}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/png");
  assert.match(res.headers.get("content-disposition"), /^inline; filename=avatar\.png$/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(picture), "downloaded bytes differ");

  const anon = await fetch(url);
  assert.equal(anon.status, 401);
  assert.equal((await anon.json()).errcode, "M_MISSING_TOKEN");
  alice.stopClient();
  bob.stopClient();
});
