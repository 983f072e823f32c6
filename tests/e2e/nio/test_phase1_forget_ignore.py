"""Phase 1, second file: forgetting rooms and ignoring users as matrix-nio sees them (issue
11 items 6 and 7; topic 2's forget records, topic 1's m.ignored_user_list).

Two fresh users, carol and dave. Forgetting: dave leaves carol's room and forgets it
(nio's room_forget); the room leaves his /sync's rooms.leave (include_leave too), his
/messages there is 403, and an invite and a join bring it back. Ignoring: dave ignores
carol; her messages leave his /sync timeline and /messages and her invite leaves his /sync,
her state events stay; un-ignoring brings her later messages back. Every check that
something is *not* there follows a write of dave's own made after carol's, so read-your-
writes makes the answer reflect carol's write too.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
import pytest_asyncio
from nio import (
    JoinResponse,
    MessageDirection,
    RoomCreateResponse,
    RoomForgetResponse,
    RoomInviteResponse,
    RoomLeaveResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomPutStateResponse,
    RoomSendResponse,
)

from e2e_support import assert_error, login, raw, register

RUN = format(int(time.time() * 1000), "x")
WITH_LEAVE = urllib.parse.quote(json.dumps({"room": {"include_leave": True, "timeline": {"limit": 50}}}))


class World:
    def __init__(self) -> None:
        self.carol = self.dave = None
        self.clients: list = []
        self.room_id = ""


@pytest_asyncio.fixture(scope="module")
async def w():
    world = World()
    yield world
    for c in world.clients:
        await c.close()


async def sync(client, query: str = "") -> dict:
    status, body = await raw(client, "GET", "/_matrix/client/v3/sync?" + query)
    assert status == 200, (status, body)
    return body


def rooms(body: dict, section: str) -> dict:
    return body.get("rooms", {}).get(section, {})


async def send(client, room_id: str, text: str) -> str:
    resp = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text})
    assert isinstance(resp, RoomSendResponse), resp
    return resp.event_id


@pytest.mark.asyncio
async def test_forget(w: World):
    for lp in ("carol", "dave"):
        await register(lp + RUN)
    w.carol, w.dave = await login("carol" + RUN), await login("dave" + RUN)
    w.clients += [w.carol, w.dave]
    cr = await w.carol.room_create(name="forget " + RUN, preset=RoomPreset.public_chat)
    assert isinstance(cr, RoomCreateResponse), cr
    room = w.room_id = cr.room_id
    assert isinstance(await w.dave.join(room), JoinResponse)
    await send(w.carol, room, "before dave leaves")
    assert isinstance(await w.dave.room_leave(room), RoomLeaveResponse)
    assert room in rooms(await sync(w.dave, "filter=" + WITH_LEAVE), "leave"), "left room not in rooms.leave"

    assert isinstance(await w.dave.room_forget(room), RoomForgetResponse)
    for q in ("", "filter=" + WITH_LEAVE, "full_state=true&filter=" + WITH_LEAVE):
        assert room not in rooms(await sync(w.dave, q), "leave"), f"forgotten room in rooms.leave of /sync?{q}"
    assert_error(await w.dave.room_messages(room, start="", direction=MessageDirection.back), 403, "M_FORBIDDEN")
    # Carol, who did not forget, still reads it.
    assert isinstance(await w.carol.room_messages(room, start=""), RoomMessagesResponse)

    # An invite brings it back, and so does joining.
    assert isinstance(await w.carol.room_invite(room, w.dave.user_id), RoomInviteResponse)
    # (The invite is written for dave as its target: his /sync reflects it at once.)
    assert room in rooms(await sync(w.dave), "invite"), "invite to a forgotten room not shown"
    assert isinstance(await w.dave.join(room), JoinResponse)
    assert room in rooms(await sync(w.dave), "join"), "rejoined room not in rooms.join"
    assert isinstance(await w.dave.room_messages(room, start=""), RoomMessagesResponse)


@pytest.mark.asyncio
async def test_ignore(w: World):
    room = w.room_id
    assert room, "test_forget did not run"
    path = f"/_matrix/client/v3/user/{urllib.parse.quote(w.dave.user_id)}/account_data/m.ignored_user_list"
    status, body = await raw(w.dave, "PUT", path, json.dumps({"ignored_users": {w.carol.user_id: {}}}))
    assert status == 200, (status, body)
    since = (await sync(w.dave))["next_batch"]

    ignored = await send(w.carol, room, "dave does not see this")
    topic = await w.carol.room_put_state(room, "m.room.topic", {"topic": "carol's topic " + RUN})
    assert isinstance(topic, RoomPutStateResponse), topic
    other = await w.carol.room_create(name="carol's other " + RUN, invite=[w.dave.user_id])
    assert isinstance(other, RoomCreateResponse), other
    barrier = await send(w.dave, room, "dave writes after carol")

    for q in ("", "since=" + since):
        body = await sync(w.dave, q)
        ids = [e["event_id"] for e in rooms(body, "join")[room]["timeline"]["events"]]
        assert barrier in ids and topic.event_id in ids, f"/sync?{q}: {ids} lacks dave's message or carol's topic"
        assert ignored not in ids, f"/sync?{q}: the ignored user's message is in the timeline"
        assert other.room_id not in rooms(body, "invite"), f"/sync?{q}: the ignored user's invite is shown"
    msgs = await w.dave.room_messages(room, start="", limit=50)
    assert isinstance(msgs, RoomMessagesResponse), msgs
    ids = [e.event_id for e in msgs.chunk]
    assert barrier in ids and ignored not in ids, f"/messages: {ids}"
    carol_msgs = await w.carol.room_messages(room, start="", limit=50)
    assert ignored in [e.event_id for e in carol_msgs.chunk], "carol lost her own message"

    # Un-ignoring: carol's later messages come back.
    status, body = await raw(w.dave, "PUT", path, json.dumps({"ignored_users": {}}))
    assert status == 200, (status, body)
    since = (await sync(w.dave))["next_batch"]
    later = await send(w.carol, room, "dave sees this again")
    barrier = await send(w.dave, room, "dave writes after carol again")
    ids = [e["event_id"] for e in rooms(await sync(w.dave, "since=" + since), "join")[room]["timeline"]["events"]]
    assert ids == [later, barrier], f"after un-ignoring: {ids}"
