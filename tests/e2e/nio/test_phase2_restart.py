"""Phase 2 of the matrix-nio end-to-end scenario: after nio.sh stopped the server with
SIGTERM and started it again, nothing of phase 1 is lost (ARCHITECTURE.md §5, §6: durable
tables and event log) — logins and profiles, the room with its topic and name, the 100
messages in order, the redaction, bob's leave — and new events still flow through /sync.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from nio import (
    JoinedMembersResponse,
    JoinedRoomsResponse,
    ProfileGetResponse,
    RedactedEvent,
    RoomGetStateEventResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)

from e2e_support import SYNC_FILTER, all_messages, client_for, login, read_state


class World:
    """What the ordered steps of phase 2 share."""

    def __init__(self) -> None:
        self.state = read_state()
        self.clients: list = []
        self.alice = self.bob = None


@pytest_asyncio.fixture(scope="module")
async def w():
    world = World()
    yield world
    for c in world.clients:
        await c.close()


@pytest.mark.asyncio
async def test_logins_and_profiles_survive(w: World):
    s = w.state
    for name in ("alice", "bob"):
        c = await login(name + s["run"], s["password"])
        w.clients.append(c)
        assert c.user_id == s[name]
        who = await c.whoami()
        assert isinstance(who, WhoamiResponse), who
        assert who.user_id == s[name]
        setattr(w, name, c)
    for name, dn in (("alice", "Alice "), ("bob", "Bob ")):
        prof = await w.alice.get_profile(s[name])
        assert isinstance(prof, ProfileGetResponse), prof
        assert prof.displayname == dn + s["run"]


@pytest.mark.asyncio
async def test_session_and_sync_position_survive(w: World):
    # Phase 1's access token still works, and an incremental /sync from phase 1's last
    # token resumes there: it answers, and replays none of the messages alice had seen.
    s, sess = w.state, w.state["alice_session"]
    c = client_for("alice" + s["run"], sess["access_token"], sess["device_id"], s["alice"])
    w.clients.append(c)
    who = await c.whoami()
    assert isinstance(who, WhoamiResponse), f"phase 1's access token is gone: {who}"
    assert (who.user_id, who.device_id) == (s["alice"], sess["device_id"])
    resp = await c.sync(timeout=0, sync_filter=SYNC_FILTER, since=sess["since"])
    assert isinstance(resp, SyncResponse), resp
    info = resp.rooms.join.get(s["room_id"])
    replayed = [e.event_id for e in info.timeline.events if e.event_id in set(s["sent"])] if info else []
    assert not replayed, f"incremental /sync after the restart replayed {len(replayed)} old messages"


@pytest.mark.asyncio
async def test_room_survives(w: World):
    s, room = w.state, w.state["room_id"]
    first = await w.alice.sync(timeout=0, sync_filter=SYNC_FILTER, full_state=True)
    assert isinstance(first, SyncResponse), first
    assert room in first.rooms.join, "the room is not in alice's initial /sync after the restart"
    nio_room = w.alice.rooms[room]
    assert (nio_room.topic, nio_room.name) == (s["topic"], s["name"])
    assert s["bob"] not in nio_room.users, "bob's leave was lost"

    got = await w.alice.room_get_state_event(room, "m.room.member", s["bob"])
    assert isinstance(got, RoomGetStateEventResponse), got
    assert got.content["membership"] == "leave"
    jm = await w.alice.joined_members(room)
    assert isinstance(jm, JoinedMembersResponse), jm
    assert [m.user_id for m in jm.members] == [s["alice"]]
    for c, expect in ((w.alice, True), (w.bob, False)):
        jr = await c.joined_rooms()
        assert isinstance(jr, JoinedRoomsResponse), jr
        assert (room in jr.rooms) == expect


@pytest.mark.asyncio
async def test_messages_and_redaction_survive(w: World):
    s, room = w.state, w.state["room_id"]
    history = await all_messages(w.alice, room)
    assert history[0].source["type"] == "m.room.create"
    msgs = [e for e in history if e.source["type"] == "m.room.message"]
    assert [e.event_id for e in msgs] == s["sent"], "the messages are not all there, once, in order"
    for i, e in enumerate(msgs):
        if e.event_id == s["redacted"]:
            assert e.source["content"] == {}, "the redaction was lost"
            assert isinstance(e, RedactedEvent), e.source
        else:
            assert isinstance(e, RoomMessageText) and e.body == f"message {i}", e.source


@pytest.mark.asyncio
async def test_new_events_flow_after_restart(w: World):
    # The stream positions go on from where they were: a message sent now arrives in the
    # next incremental /sync exactly once, and nothing old is replayed with it.
    room = w.state["room_id"]
    since = w.alice.next_batch
    sent = await w.alice.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "after restart"})
    assert isinstance(sent, RoomSendResponse), sent
    seen: list = []
    for _ in range(10):
        resp = await w.alice.sync(timeout=5000, sync_filter=SYNC_FILTER, since=since)
        assert isinstance(resp, SyncResponse), resp
        since = resp.next_batch
        if room in resp.rooms.join:
            assert not resp.rooms.join[room].timeline.limited
            seen += [e.event_id for e in resp.rooms.join[room].timeline.events]
        if sent.event_id in seen:
            break
    assert seen == [sent.event_id], f"incremental /sync after the restart returned {seen}"
