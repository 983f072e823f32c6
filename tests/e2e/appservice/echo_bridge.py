"""An echo bridge on mautrix-python's appservice framework, driving axon-monolith.

Run by tests/e2e/appservice.sh, which builds the monolith and writes its config and the
bridge's registration. The script starts and stops the monolith itself (AXON_E2E_* below)
and checks, through the real framework:

1. the ping (POST /_matrix/client/v1/appservice/echo/ping → the bridge's /_matrix/app/v1/ping);
2. alice invites the ghost @_echo_bob: the bridge gets the invite in a transaction,
   registers the ghost (m.login.application_service) and joins it (?user_id=); alice's
   message reaches the bridge and the ghost answers "echo: …", which alice sees in /sync;
3. alice joins #_echo_portal, which does not exist: Axon asks the bridge (alias query),
   whose ghost creates the portal room with that alias; alice's message there is echoed;
4. the bridge is stopped; alice sends messages, Axon is restarted in the middle; the bridge
   comes back and gets every missed message exactly once, in order, and echoes each;
5. the as_token outside the bridge's namespaces gets 403;
6. ephemeral data (MSC2409, receive_ephemeral): alice's typing and read receipt in the
   room reach the bridge in transactions;
7. timestamp massaging: the ghost sends with ?ts= (the framework's timestamp) and the
   event keeps that origin_server_ts;
8. the as_token (with ?user_id=) on the sync and media endpoints;
9. appservice login (m.login.application_service), as the framework's encryption start-up
   does for the bot and double puppeting for a ghost: GET /login offers the type, the
   bot and the ghost get devices of their own whose tokens sync, and a user outside the
   namespaces is refused 403.

Every request from Axon must carry the right hs_token (checked in the framework, and
counted here: one wrong token fails the test).
"""

import asyncio
import os
import subprocess
import sys
import time

import aiohttp
from mautrix.appservice import AppService
from mautrix.appservice.state_store.file import FileASStateStore
from mautrix.client import ClientAPI
from mautrix.types import DeviceID, EventType, LoginType, Membership, RoomCreatePreset, UserID

HS = os.environ["AXON_E2E_BASE_URL"]
BRIDGE_PORT = int(os.environ["AXON_E2E_BRIDGE_PORT"])
AS_TOKEN = os.environ["AXON_E2E_AS_TOKEN"]
HS_TOKEN = os.environ["AXON_E2E_HS_TOKEN"]
MONOLITH = os.environ["AXON_E2E_MONOLITH"].split()  # the command line
LOG = os.environ["AXON_E2E_LOG"]
WORK = os.environ["AXON_E2E_WORK"]
GHOST = "@_echo_bob:localhost"

bad_tokens = 0
received = []  # event IDs of alice's messages, in the order the bridge got them
ephemeral = []  # (type, room_id, content) of the ephemeral events the bridge got
# The framework handles each event in its own task: the lock (taken first, FIFO) keeps the
# echoes in the order the messages arrived.
send_lock = None


class Bridge(AppService):
    def _check_token(self, request):  # the framework's hs_token check, counted
        global bad_tokens
        ok = super()._check_token(request)
        if not ok:
            bad_tokens += 1
        return ok


async def on_event(az, evt):
    if evt.type == EventType.TYPING:
        ephemeral.append((evt.type.t, evt.room_id, evt.content.serialize()))
    elif evt.type == EventType.RECEIPT:  # {event ID: {receipt type: [users]}}
        plain = {str(eid): {str(getattr(rt, "value", rt)): [str(u) for u in users] for rt, users in types.items()}
                 for eid, types in evt.content.items()}
        ephemeral.append((evt.type.t, evt.room_id, plain))
    elif evt.type == EventType.ROOM_MEMBER and evt.state_key == GHOST and evt.content.membership == Membership.INVITE:
        ghost = az.intent.user(UserID(GHOST))
        await ghost.ensure_registered()
        await ghost.join_room(evt.room_id)
    elif evt.type == EventType.ROOM_MESSAGE and evt.sender.startswith("@alice"):
        received.append(evt.event_id)
        async with send_lock:
            await az.intent.user(UserID(GHOST)).send_text(evt.room_id, "echo: " + evt.content.body)


async def query_alias(az, alias):
    # The alias query: the ghost creates the portal room under the alias asked for.
    if not alias.startswith("#_echo_"):
        return None
    ghost = az.intent.user(UserID(GHOST))
    await ghost.ensure_registered()
    room_id = await ghost.create_room(alias_localpart=alias[1:].split(":")[0], preset=RoomCreatePreset.PUBLIC)
    return {"room_id": room_id}


async def start_bridge():
    az = None
    az = Bridge(query_alias=lambda alias: query_alias(az, alias), server=HS, domain="localhost", as_token=AS_TOKEN, hs_token=HS_TOKEN, bot_localpart="echobot",
                id="echo", state_store=FileASStateStore(path=os.path.join(WORK, "bridge-state.json"), binary=False),
                log="echo-bridge", ephemeral_events=True)
    az.matrix_event_handler(lambda evt: on_event(az, evt))
    await az.start("127.0.0.1", BRIDGE_PORT)
    az.ready = az.live = True
    return az


class Server:
    def __init__(self):
        self.proc = None

    async def start(self, http):
        self.proc = subprocess.Popen(MONOLITH, stdout=open(LOG, "ab"), stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                async with http.get(HS + "/_matrix/client/versions") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit("axon-monolith exited at start")
            await asyncio.sleep(0.1)
        raise SystemExit("axon-monolith did not answer in 30 s")

    def stop(self):
        self.proc.terminate()
        if self.proc.wait(60) != 0:
            raise SystemExit("axon-monolith did not exit cleanly on SIGTERM")


async def call(http, method, path, token=None, body=None, want=200):
    headers = {"Authorization": "Bearer " + token} if token else {}
    async with http.request(method, HS + path, json=body, headers=headers) as r:
        js = await r.json(content_type=None)
        if want is not None and r.status != want:
            raise AssertionError(f"{method} {path}: {r.status} {js}, want {want}")
        return js


async def wait_for(what, cond, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await cond():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


async def main():
    global send_lock
    send_lock = asyncio.Lock()
    async with aiohttp.ClientSession() as http:
        server = Server()
        await server.start(http)
        az = await start_bridge()
        try:
            await run(http, server, az)
        finally:
            try:
                await az.stop()
            except Exception:
                pass
            if server.proc and server.proc.poll() is None:
                server.stop()


async def run(http, server, az):
    # 1. The ping, through the framework's own call.
    ms = await az.ping_self("e2e-ping")
    assert isinstance(ms, int) and ms >= 0, ms
    print("ping:", ms, "ms")

    # alice registers (open registration, m.login.dummy) and creates a room.
    body = {"username": "alice", "password": "alice-password-1"}
    r = await call(http, "POST", "/_matrix/client/v3/register", body=body, want=401)
    body["auth"] = {"type": "m.login.dummy", "session": r["session"]}
    alice = (await call(http, "POST", "/_matrix/client/v3/register", body=body))["access_token"]
    room = (await call(http, "POST", "/_matrix/client/v3/createRoom", alice, {"invite": [GHOST]}))["room_id"]

    async def ghost_joined():
        js = await call(http, "GET", f"/_matrix/client/v3/rooms/{room}/joined_members", alice)
        return GHOST in js.get("joined", {})
    await wait_for("the ghost to join", ghost_joined)

    since = None
    echoes = []

    async def sync_echoes():
        nonlocal since
        path = "/_matrix/client/v3/sync?timeout=0" + (f"&since={since}" if since else "")
        js = await call(http, "GET", path, alice)
        since = js["next_batch"]
        for ev in js.get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {}).get("events", []):
            if ev["sender"] == GHOST and ev["type"] == "m.room.message":
                echoes.append(ev["content"]["body"])

    # 2. A message and its echo.
    first = (await call(http, "PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t0", alice,
                        {"msgtype": "m.text", "body": "hello"}))["event_id"]

    async def echoed(n):
        await sync_echoes()
        return len(echoes) >= n
    await wait_for("the echo", lambda: echoed(1))
    assert echoes == ["echo: hello"], echoes
    assert received == [first], received
    print("echo: ok")

    # 3. A portal room made on demand by the alias query.
    portal = (await call(http, "POST", "/_matrix/client/v3/join/%23_echo_portal%3Alocalhost", alice, {}))["room_id"]
    await call(http, "PUT", f"/_matrix/client/v3/rooms/{portal}/send/m.room.message/p1", alice,
               {"msgtype": "m.text", "body": "portal"})
    portal_echo = []

    async def portal_echoed():
        js = await call(http, "GET", f"/_matrix/client/v3/rooms/{portal}/messages?dir=b&limit=10", alice)
        portal_echo[:] = [e["content"]["body"] for e in js["chunk"] if e["sender"] == GHOST and e["type"] == "m.room.message"]
        return bool(portal_echo)
    await wait_for("the portal echo", portal_echoed)
    assert portal_echo == ["echo: portal"], portal_echo
    received.pop()  # the portal message: the outage check below counts the first room's
    print("portal room by alias query: ok")

    # 4. The bridge goes away; Axon restarts in the middle of the outage.
    await az.stop()
    sent = []
    for i in range(1, 6):
        sent.append((await call(http, "PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t{i}", alice,
                                {"msgtype": "m.text", "body": f"missed {i}"}))["event_id"])
        if i == 3:
            server.stop()
            await server.start(http)
    await asyncio.sleep(2)  # Axon retries against the stopped bridge meanwhile
    az = await start_bridge()
    await wait_for("the missed messages", lambda: echoed(6), timeout=120)
    await asyncio.sleep(2)  # a duplicate would arrive now
    await sync_echoes()
    assert received == [first] + sent, (received, [first] + sent)
    assert echoes == ["echo: hello"] + [f"echo: missed {i}" for i in range(1, 6)], echoes
    print("outage and restart: every missed message once, in order")

    # 6. Ephemeral: alice types and reads the last echo; the bridge sees both.
    await call(http, "PUT", f"/_matrix/client/v3/rooms/{room}/typing/%40alice%3Alocalhost", alice,
               {"typing": True, "timeout": 30000})

    async def saw(pred):
        return any(pred(t, r, c) for t, r, c in ephemeral)
    await wait_for("alice's typing at the bridge", lambda: saw(
        lambda t, r, c: t == "m.typing" and r == room and "@alice:localhost" in c.get("user_ids", [])))
    last = (await call(http, "GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=1", alice))["chunk"][0]["event_id"]
    await call(http, "POST", f"/_matrix/client/v3/rooms/{room}/receipt/m.read/{last}", alice, {})
    await wait_for("alice's receipt at the bridge", lambda: saw(
        lambda t, r, c: t == "m.receipt" and r == room and "@alice:localhost" in c.get(last, {}).get("m.read", {})))
    print("ephemeral (typing, receipt): ok")

    # 7. Timestamp massaging: a ghost's message with ?ts= keeps that timestamp.
    old_ts = 1500000000000
    ghost = az.intent.user(UserID(GHOST))
    eid = await ghost.send_text(portal, "from the past", timestamp=old_ts)
    ev = await call(http, "GET", f"/_matrix/client/v3/rooms/{portal}/event/{eid}", alice)
    assert ev["origin_server_ts"] == old_ts, ev
    print("timestamp massaging: ok")

    # 5. The as_token outside the namespaces.
    r = await call(http, "GET", "/_matrix/client/v3/account/whoami?user_id=%40alice%3Alocalhost", AS_TOKEN, want=403)
    assert r["errcode"] == "M_FORBIDDEN", r
    # The as_token on the syncapi's and the mediaapi's endpoints: the ghost syncs and
    # uploads through it; alice cannot be masqueraded there either.
    js = await call(http, "GET", "/_matrix/client/v3/sync?timeout=0&user_id=%40_echo_bob%3Alocalhost", AS_TOKEN)
    assert room in js.get("rooms", {}).get("join", {}), list(js.get("rooms", {}).get("join", {}))
    r = await call(http, "GET", "/_matrix/client/v3/sync?timeout=0&user_id=%40alice%3Alocalhost", AS_TOKEN, want=403)
    assert r["errcode"] == "M_FORBIDDEN", r
    async with http.post(HS + "/_matrix/media/v3/upload?user_id=%40_echo_bob%3Alocalhost", data=b"bridged bytes",
                         headers={"Authorization": "Bearer " + AS_TOKEN, "Content-Type": "text/plain"}) as up:
        body = await up.json(content_type=None)
        assert up.status == 200 and body.get("content_uri", "").startswith("mxc://localhost/"), (up.status, body)
    print("as_token on sync and media: ok")

    # 9. Appservice login, through the framework's ClientAPI as its encryption start-up
    # (the bot) and double puppeting (a ghost) call it: the as_token authenticates the
    # login, the answer is a device of the user's own.
    flows = await ClientAPI(base_url=HS, client_session=http).get_login_flows()
    assert flows.supports_type(LoginType.APPSERVICE), flows
    bot = ClientAPI(mxid=UserID("@echobot:localhost"), base_url=HS, token=AS_TOKEN, client_session=http)
    resp = await bot.login(login_type=LoginType.APPSERVICE, device_name="echo bridge", store_access_token=True)
    assert resp.user_id == "@echobot:localhost" and resp.device_id and resp.access_token != AS_TOKEN, resp
    who = await bot.whoami()
    assert who.user_id == "@echobot:localhost" and who.device_id == resp.device_id, who
    puppet = ClientAPI(mxid=UserID(GHOST), base_url=HS, token=AS_TOKEN, client_session=http)
    resp = await puppet.login(login_type=LoginType.APPSERVICE, device_id=DeviceID("ECHOPUPPET"),
                              device_name="echo puppet", store_access_token=True)
    assert resp.user_id == GHOST and resp.device_id == "ECHOPUPPET", resp
    js = await puppet.sync(timeout=0)
    assert room in js.get("rooms", {}).get("join", {}), list(js.get("rooms", {}).get("join", {}))
    devs = await call(http, "GET", "/_matrix/client/v3/devices/ECHOPUPPET", puppet.api.token)
    assert devs.get("display_name") == "echo puppet", devs
    r = await call(http, "POST", "/_matrix/client/v3/login", AS_TOKEN, want=403, body={
        "type": "m.login.application_service", "identifier": {"type": "m.id.user", "user": "alice"}})
    assert r["errcode"] == "M_FORBIDDEN", r
    print("appservice login (bot and double puppet): ok")
    assert bad_tokens == 0, f"{bad_tokens} requests with a wrong hs_token"
    await az.stop()
    print("echo bridge e2e: passed")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AssertionError as e:
        print("FAILED:", e)
        sys.exit(1)
