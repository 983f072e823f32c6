// Issue 14, first slice, as matrix-js-sdk sees it: alice uploads a picture with the SDK's
// uploadContent (POST /_matrix/media/v3/upload) and makes it her avatar; bob, another
// client, downloads it on the authenticated media path the SDK builds
// (mxcUrlToHttp(..., useAuthentication)) with his access token: the same bytes, the same
// type, shown inline; without a token it is 401 M_MISSING_TOKEN. Then a real PNG and its
// thumbnails on the URL the SDK builds (mxcUrlToHttp with width, height and method).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { deflateSync } from "node:zlib";
import { register, clientFor } from "./lib.mjs";

const run = Date.now().toString(36);
const password = "correct horse battery staple";

// Both tests use the same two accounts (registration is rate-limited).
let accounts;
const twoAccounts = async () =>
  (accounts ??= (async () => [await register("mediaa" + run, password), await register("mediab" + run, password)])());

test("upload with matrix-js-sdk, download by another client", { timeout: 60000 }, async () => {
  const [aliceCreds, bobCreds] = await twoAccounts();
  const alice = clientFor(aliceCreds);
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

// crc32 and png make a real 64×48 RGBA PNG (red, green, blue, white quadrants) for the
// thumbnail check: the random bytes above are no image.
function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function png(w, h) {
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + 4 * w); // filter byte 0, then RGBA
    for (let x = 0; x < w; x++) {
      const right = x >= w / 2, bottom = y >= h / 2;
      const px = !bottom ? (right ? [0, 255, 0] : [255, 0, 0]) : (right ? [255, 255, 255] : [0, 0, 255]);
      row.set([...px, 255], 1 + 4 * x);
    }
    rows.push(row);
  }
  const chunk = (type, data) => {
    const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "latin1"), chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0))]);
}

test("thumbnail of an image uploaded with matrix-js-sdk, fetched by another client", { timeout: 60000 }, async () => {
  const [aliceCreds, bobCreds] = await twoAccounts();
  const alice = clientFor(aliceCreds);
  const bob = clientFor(bobCreds);
  const { content_uri: mxc } = await alice.uploadContent(png(64, 48), { name: "q.png", type: "image/png" });

  const url = bob.mxcUrlToHttp(mxc, 32, 32, "crop", false, true, true);
  assert.match(url, /\/_matrix\/client\/v1\/media\/thumbnail\/.*width=32.*height=32.*method=crop/);
  const res = await fetch(url, { headers: { Authorization: `Bearer ${bobCreds.access_token}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/png");
  const thumb = Buffer.from(await res.arrayBuffer());
  assert.ok(thumb.subarray(0, 8).equals(Buffer.from("\x89PNG\r\n\x1a\n", "latin1")), "not a PNG");
  assert.equal(thumb.subarray(12, 16).toString("latin1"), "IHDR");
  assert.deepEqual([thumb.readUInt32BE(16), thumb.readUInt32BE(20)], [32, 32]);

  const scaled = await fetch(bob.mxcUrlToHttp(mxc, 320, 240, "scale", false, true, true),
    { headers: { Authorization: `Bearer ${bobCreds.access_token}` } });
  assert.equal(scaled.status, 200);
  const s = Buffer.from(await scaled.arrayBuffer());
  assert.deepEqual([s.readUInt32BE(16), s.readUInt32BE(20)], [64, 48], "a small image is not enlarged");

  const anon = await fetch(url);
  assert.equal(anon.status, 401);
  alice.stopClient();
  bob.stopClient();
});
