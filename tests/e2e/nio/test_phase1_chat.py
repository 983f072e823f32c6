"""Phase 1 of the matrix-nio end-to-end scenario (ARCHITECTURE.md §7; arrows 4 and topics
1, 2, 4 seen from the client's side).

Two users register, log in, set profiles, create a room, invite, join, exchange 50
messages each way that each side sees exactly once and in order through /sync and
/messages, change state, redact, query state and members, hit the error paths, and one
leaves. The steps run in file order and share one world (nio.sh runs pytest with -x);
what phase 2 must find after the server restart is written to AXON_E2E_STATE.
"""

from __future__ import annotations

import time
import uuid

import pytest
import pytest_asyncio
from nio import (
    InviteMemberEvent,
    JoinedMembersResponse,
    JoinedRoomsResponse,
    JoinResponse,
    ProfileGetDisplayNameResponse,
    ProfileGetResponse,
    ProfileSetDisplayNameResponse,
    RedactedEvent,
    RedactionEvent,
    RoomCreateResponse,
    RoomGetEventResponse,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomInviteResponse,
    RoomLeaveResponse,
    RoomMemberEvent,
    RoomMessageText,
    RoomNameEvent,
    RoomPreset,
    RoomPutStateResponse,
    RoomRedactResponse,
    RoomSendResponse,
    RoomTopicEvent,
    WhoamiResponse,
)

from e2e_support import (
    PASSWORD,
    SyncRecorder,
    all_messages,
    assert_error,
    client_for,
    login,
    raw,
    register,
    wait_for,
    write_state,
)

N = 100  # messages, alternating alice and bob: 50 each way
RUN = format(int(time.time() * 1000), "x")


class World:
    """What the ordered steps of phase 1 share."""

    def __init__(self) -> None:
        self.state: dict = {"run": RUN, "password": PASSWORD}
        self.clients: list = []
        self.recorders: list[SyncRecorder] = []
        self.alice = self.bob = None
        self.ra: SyncRecorder | None = None
        self.rb: SyncRecorder | None = None
        self.room_id = ""
        self.sent: list[str] = []
        self.redaction = None


@pytest_asyncio.fixture(scope="module")
async def w():
    world = World()
    yield world
    for r in world.recorders:
        await r.stop()
    for c in world.clients:
        await c.close()


def member_events(rec: SyncRecorder, room_id: str, user_id: str) -> list:
    return [e for e in rec.events(room_id, "m.room.member") if e.source.get("state_key") == user_id]


def content(ev) -> dict:
    return ev.source.get("content", {})


@pytest.mark.asyncio
async def test_register_login_whoami(w: World):
    for name in ("alice", "bob"):
        localpart = name + RUN
        reg = await register(localpart)
        assert reg.user_id.startswith(f"@{localpart}:"), reg.user_id
        assert reg.access_token and reg.device_id
        w.state[name] = reg.user_id

        # The registration's own session works.
        c = client_for(localpart, reg.access_token, reg.device_id, reg.user_id)
        who = await c.whoami()
        await c.close()
        assert isinstance(who, WhoamiResponse), who
        assert (who.user_id, who.device_id) == (reg.user_id, reg.device_id)

        # A password login gets a second device of the same user.
        c = await login(localpart)
        w.clients.append(c)
        assert c.user_id == reg.user_id and c.device_id and c.device_id != reg.device_id
        who = await c.whoami()
        assert isinstance(who, WhoamiResponse), who
        assert (who.user_id, who.device_id) == (c.user_id, c.device_id)
        setattr(w, name, c)

    # The same name again, and a wrong password.
    taken = client_for("x")
    w.clients.append(taken)
    resp = await taken.register("alice" + RUN, PASSWORD)
    assert_error(resp, 400, "M_USER_IN_USE")
    wrong = client_for("alice" + RUN)
    w.clients.append(wrong)
    resp = await wrong.login("wrong password")
    assert_error(resp, 403, "M_FORBIDDEN")


@pytest.mark.asyncio
async def test_profile(w: World):
    resp = await w.alice.set_displayname("Alice " + RUN)
    assert isinstance(resp, ProfileSetDisplayNameResponse), resp
    prof = await w.bob.get_profile(w.alice.user_id)
    assert isinstance(prof, ProfileGetResponse), prof
    assert prof.displayname == "Alice " + RUN
    own = await w.alice.get_displayname()
    assert isinstance(own, ProfileGetDisplayNameResponse), own
    assert own.displayname == "Alice " + RUN
    missing = await w.alice.get_profile(f"@nobody{RUN}:localhost")
    assert_error(missing, 404, "M_NOT_FOUND")


@pytest.mark.asyncio
async def test_create_invite_join(w: World):
    w.ra, w.rb = SyncRecorder(w.alice, "alice"), SyncRecorder(w.bob, "bob")
    w.recorders += [w.ra, w.rb]
    await w.ra.start()
    await w.rb.start()
    recs = (w.ra, w.rb)

    created = await w.alice.room_create(name="nio room " + RUN, topic="topic " + RUN,
                                        preset=RoomPreset.private_chat)
    assert isinstance(created, RoomCreateResponse), created
    room = w.room_id = w.state["room_id"] = created.room_id

    # Alice's own join carries the displayname she set before creating the room.
    await wait_for("alice's join in her /sync", lambda: member_events(w.ra, room, w.alice.user_id), recorders=recs)
    assert w.ra.events(room)[0].source["type"] == "m.room.create"
    assert content(member_events(w.ra, room, w.alice.user_id)[0]).get("displayname") == "Alice " + RUN
    await wait_for("alice's nio room has name and topic",
                   lambda: room in w.alice.rooms and w.alice.rooms[room].topic == "topic " + RUN
                   and w.alice.rooms[room].name == "nio room " + RUN, recorders=recs)

    invited = await w.alice.room_invite(room, w.bob.user_id)
    assert isinstance(invited, RoomInviteResponse), invited

    def bob_invited() -> bool:
        return any(isinstance(e, InviteMemberEvent) and e.state_key == w.bob.user_id and e.membership == "invite"
                   for e in w.rb.invites.get(room, []))
    # The invite goes clientapi → roomserver (arrow 4) → syncapi (topic 2) → bob's /sync.
    await wait_for("bob's invite in rooms.invite of his /sync", bob_invited, recorders=recs)
    assert room in w.bob.invited_rooms
    # The stripped state of the invite lets a client show what the room is.
    assert w.bob.invited_rooms[room].name == "nio room " + RUN, "m.room.name missing from invite_state"

    joined = await w.bob.join(room)
    assert isinstance(joined, JoinResponse), joined
    assert joined.room_id == room

    await wait_for("alice sees bob join",
                   lambda: any(content(e).get("membership") == "join" for e in member_events(w.ra, room, w.bob.user_id)),
                   recorders=recs)
    await wait_for("bob's /sync has the room joined", lambda: room in w.rb.timeline and room in w.bob.rooms, recorders=recs)
    assert w.bob.user_id in w.alice.rooms[room].users

    # A displayname set after joining reaches the room as a new member event (topic 4).
    resp = await w.bob.set_displayname("Bob " + RUN)
    assert isinstance(resp, ProfileSetDisplayNameResponse), resp
    await wait_for("alice sees bob's new displayname in his member event",
                   lambda: any(content(e).get("displayname") == "Bob " + RUN and content(e).get("membership") == "join"
                               for e in member_events(w.ra, room, w.bob.user_id)), recorders=recs)
    assert w.alice.rooms[room].user_name(w.bob.user_id) == "Bob " + RUN


@pytest.mark.asyncio
async def test_messages_each_way(w: World):
    room, recs = w.room_id, (w.ra, w.rb)
    first_tx = str(uuid.uuid4())
    for i in range(N):
        sender = w.alice if i % 2 == 0 else w.bob
        body = {"msgtype": "m.text", "body": f"message {i}"}
        resp = await sender.room_send(room, "m.room.message", body, tx_id=first_tx if i == 0 else None)
        assert isinstance(resp, RoomSendResponse), f"message {i}: {resp}"
        assert resp.event_id.startswith("$")
        if i == 0:
            # The same transaction ID again is the same event, not a second one.
            again = await sender.room_send(room, "m.room.message", body, tx_id=first_tx)
            assert isinstance(again, RoomSendResponse), again
            assert again.event_id == resp.event_id, "a retried transaction created a second event"
        w.sent.append(resp.event_id)
    w.state["sent"] = w.sent
    sent = set(w.sent)

    # Each message: PUT /send → roomserver (arrow 4) → syncapi (topic 2) → both /sync loops.
    for rec in recs:
        await wait_for(f"{rec.name} receives all {N} messages through /sync",
                       lambda: sent <= set(rec.ids(room)), timeout=60, recorders=recs)
        assert not rec.limited, f"{rec.name}: /sync left gaps (limited) in {rec.limited}"
        assert not rec.duplicates(room), f"{rec.name}: events seen more than once: {rec.duplicates(room)}"
        msgs = [e for e in rec.events(room, "m.room.message") if e.event_id in sent]
        assert [e.event_id for e in msgs] == w.sent, f"{rec.name}: /sync order differs from send order"
        for i, e in enumerate(msgs):
            assert isinstance(e, RoomMessageText) and e.body == f"message {i}", e
            assert e.sender == (w.alice.user_id if i % 2 == 0 else w.bob.user_id)

    for c in (w.alice, w.bob):
        history = await all_messages(c, room)
        assert history[0].source["type"] == "m.room.create", "/messages did not page back to the room's start"
        ids = [e.event_id for e in history]
        assert len(ids) == len(set(ids)), "/messages returned an event twice"
        assert [e.event_id for e in history if e.source["type"] == "m.room.message"] == w.sent


@pytest.mark.asyncio
async def test_state_change(w: World):
    room, recs = w.room_id, (w.ra, w.rb)
    topic, name = "new topic " + RUN, "new name " + RUN
    for ev_type, body in (("m.room.topic", {"topic": topic}), ("m.room.name", {"name": name})):
        resp = await w.alice.room_put_state(room, ev_type, body)
        assert isinstance(resp, RoomPutStateResponse), resp
    w.state["topic"], w.state["name"] = topic, name

    await wait_for("bob sees the new topic and name",
                   lambda: any(isinstance(e, RoomTopicEvent) and e.topic == topic for e in w.rb.events(room))
                   and any(isinstance(e, RoomNameEvent) and e.name == name for e in w.rb.events(room)),
                   recorders=recs)
    assert (w.bob.rooms[room].topic, w.bob.rooms[room].name) == (topic, name)
    got = await w.bob.room_get_state_event(room, "m.room.topic")
    assert isinstance(got, RoomGetStateEventResponse), got
    assert got.content == {"topic": topic}

    # Bob (power 0 in a private chat) may not rename the room, and nothing changes.
    denied = await w.bob.room_put_state(room, "m.room.name", {"name": "bob was here"})
    assert_error(denied, 403, "M_FORBIDDEN")
    got = await w.alice.room_get_state_event(room, "m.room.name")
    assert isinstance(got, RoomGetStateEventResponse), got
    assert got.content == {"name": name}


@pytest.mark.asyncio
async def test_redaction(w: World):
    room, recs = w.room_id, (w.ra, w.rb)
    target = w.state["redacted"] = w.sent[10]  # alice's "message 10"
    resp = await w.alice.room_redact(room, target, reason="e2e")
    assert isinstance(resp, RoomRedactResponse), resp

    def bob_saw() -> list:
        return [e for e in w.rb.events(room, "m.room.redaction") if e.event_id == resp.event_id]
    await wait_for("bob sees the redaction through /sync", lambda: bool(bob_saw()), recorders=recs)
    red = bob_saw()[0]
    assert content(red).get("redacts") == target, red.source  # room version 11+: in content
    w.redaction = red

    got = await w.bob.room_get_event(room, target)
    assert isinstance(got, RoomGetEventResponse), got
    assert got.event.source["content"] == {}, "redacted content is not stripped"
    assert isinstance(got.event, RedactedEvent), f"no unsigned.redacted_because: {got.event.source}"

    history = await all_messages(w.alice, room)
    for e in history:
        if e.event_id == target:
            assert e.source["content"] == {}
        elif e.event_id in w.sent:
            assert e.source["content"]["body"].startswith("message ")


@pytest.mark.asyncio
async def test_state_and_member_queries(w: World):
    room = w.room_id
    st = await w.bob.room_get_state(room)
    assert isinstance(st, RoomGetStateResponse), st
    by_key = {(e["type"], e.get("state_key")): e for e in st.events}
    for key in (("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.join_rules", ""),
                ("m.room.history_visibility", ""), ("m.room.topic", ""), ("m.room.name", "")):
        assert key in by_key, f"{key} missing from /state"
    assert by_key[("m.room.topic", "")]["content"] == {"topic": w.state["topic"]}
    assert by_key[("m.room.join_rules", "")]["content"]["join_rule"] == "invite"
    for uid, dn in ((w.alice.user_id, "Alice " + RUN), (w.bob.user_id, "Bob " + RUN)):
        m = by_key[("m.room.member", uid)]["content"]
        assert (m["membership"], m.get("displayname")) == ("join", dn)

    got = await w.alice.room_get_state_event(room, "m.room.member", w.bob.user_id)
    assert isinstance(got, RoomGetStateEventResponse), got
    assert got.content["membership"] == "join" and got.content["displayname"] == "Bob " + RUN
    none = await w.alice.room_get_state_event(room, "org.axon.e2e.absent")
    assert_error(none, 404, "M_NOT_FOUND")

    for c in (w.alice, w.bob):
        jr = await c.joined_rooms()
        assert isinstance(jr, JoinedRoomsResponse), jr
        assert room in jr.rooms
    jm = await w.bob.joined_members(room)
    assert isinstance(jm, JoinedMembersResponse), jm
    assert {(m.user_id, m.display_name) for m in jm.members} == {
        (w.alice.user_id, "Alice " + RUN), (w.bob.user_id, "Bob " + RUN)}


@pytest.mark.asyncio
async def test_bad_input(w: World):
    room = w.room_id
    # An access token the server never issued.
    stranger = client_for("alice" + RUN, "not-a-token", "NODEVICE", w.alice.user_id)
    w.clients.append(stranger)
    assert_error(await stranger.whoami(), 401, "M_UNKNOWN_TOKEN")
    assert_error(await stranger.joined_rooms(), 401, "M_UNKNOWN_TOKEN")
    assert_error(await stranger.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "x"}),
                 401, "M_UNKNOWN_TOKEN")
    status, body = await raw(w.alice, "GET", "/_matrix/client/v3/account/whoami", token="")
    assert (status, body.get("errcode")) == (401, "M_MISSING_TOKEN"), (status, body)

    # A room bob is not in: he may neither send, nor read, nor join it (invite only).
    other = await w.alice.room_create(name="alice alone " + RUN, preset=RoomPreset.private_chat)
    assert isinstance(other, RoomCreateResponse), other
    assert_error(await w.bob.room_send(other.room_id, "m.room.message", {"msgtype": "m.text", "body": "x"}),
                 403, "M_FORBIDDEN")
    assert_error(await w.bob.room_get_state(other.room_id), 403, "M_FORBIDDEN")
    assert_error(await w.bob.join(other.room_id), 403, "M_FORBIDDEN")

    # Unknown endpoint, known endpoint with an unknown method.
    status, body = await raw(w.alice, "GET", "/_matrix/client/v3/org.axon.no_such_endpoint")
    assert (status, body.get("errcode")) == (404, "M_UNRECOGNIZED"), (status, body)
    status, body = await raw(w.alice, "DELETE", "/_matrix/client/v3/account/whoami")
    assert (status, body.get("errcode")) == (405, "M_UNRECOGNIZED"), (status, body)

    # A body that is not JSON, JSON that is not an object, a key twice; none creates an event.
    path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/"
    status, body = await raw(w.alice, "PUT", path + uuid.uuid4().hex, body="{not json")
    assert (status, body.get("errcode")) == (400, "M_NOT_JSON"), (status, body)
    status, body = await raw(w.alice, "PUT", path + uuid.uuid4().hex, body="[1, 2]")
    assert (status, body.get("errcode")) == (400, "M_NOT_JSON"), (status, body)
    # A key twice in one object is not JSON under the spec's rules either.
    status, body = await raw(w.alice, "PUT", path + uuid.uuid4().hex, body='{"body": "a", "body": "b"}')
    assert (status, body.get("errcode")) == (400, "M_NOT_JSON"), (status, body)
    history = await all_messages(w.alice, room)
    assert [e.event_id for e in history if e.source["type"] == "m.room.message"] == w.sent


@pytest.mark.asyncio
async def test_leave(w: World):
    room, recs = w.room_id, (w.ra, w.rb)
    resp = await w.bob.room_leave(room)
    assert isinstance(resp, RoomLeaveResponse), resp

    await wait_for("alice sees bob leave",
                   lambda: any(isinstance(e, RoomMemberEvent) and e.membership == "leave"
                               for e in member_events(w.ra, room, w.bob.user_id)), recorders=recs)
    await wait_for("alice's nio room drops bob", lambda: w.bob.user_id not in w.alice.rooms[room].users, recorders=recs)
    await wait_for("bob's /sync lists the room under rooms.leave", lambda: room in w.rb.left_rooms, recorders=recs)

    jr = await w.bob.joined_rooms()
    assert isinstance(jr, JoinedRoomsResponse), jr
    assert room not in jr.rooms
    jm = await w.alice.joined_members(room)
    assert isinstance(jm, JoinedMembersResponse), jm
    assert [m.user_id for m in jm.members] == [w.alice.user_id]
    assert_error(await w.bob.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "x"}), 403, "M_FORBIDDEN")

    for rec in recs:
        rec.check()
        assert not rec.limited, f"{rec.name}: /sync left gaps (limited) in {rec.limited}"
    assert not w.ra.duplicates(room), f"alice: events seen more than once: {w.ra.duplicates(room)}"
    # Alice's session and sync position, for phase 2 to resume with after the restart.
    w.state["alice_session"] = {"access_token": w.alice.access_token, "device_id": w.alice.device_id,
                                "since": w.alice.next_batch}
    write_state(w.state)


@pytest.mark.asyncio
async def test_redaction_parses_in_nio(w: World):
    # Last, so that a failure here does not hide the steps above. rooms/v11.md: servers
    # add a top-level "redacts" to m.room.redaction served over the Client-Server API in
    # v11+ rooms (clients like nio read only that), and "redacts" in content for older
    # versions (for newer clients). Checked in the default-version room and a v10 room.
    problems = []
    red = w.redaction
    assert red is not None, "test_redaction did not run"
    if red.source.get("redacts") != w.state["redacted"]:
        problems.append(f"default room version: no top-level redacts: {red.source}")
    elif not isinstance(red, RedactionEvent) or red.redacts != w.state["redacted"]:
        problems.append(f"default room version: nio could not parse the redaction: {red.source}")

    via_messages = [e for e in await all_messages(w.alice, w.room_id) if e.event_id == red.event_id]
    assert len(via_messages) == 1, "the redaction is not in /messages"
    if via_messages[0].source.get("redacts") != w.state["redacted"]:
        problems.append(f"default room version: no top-level redacts in /messages: {via_messages[0].source}")

    old = await w.alice.room_create(name="v10 " + RUN, room_version="10", preset=RoomPreset.private_chat)
    assert isinstance(old, RoomCreateResponse), old
    msg = await w.alice.room_send(old.room_id, "m.room.message", {"msgtype": "m.text", "body": "to redact"})
    assert isinstance(msg, RoomSendResponse), msg
    rr = await w.alice.room_redact(old.room_id, msg.event_id)
    assert isinstance(rr, RoomRedactResponse), rr

    def seen() -> list:
        return [e for e in w.ra.events(old.room_id, "m.room.redaction") if e.event_id == rr.event_id]
    await wait_for("alice sees the v10 redaction", lambda: bool(seen()), recorders=(w.ra,))
    red10 = seen()[0]
    if not isinstance(red10, RedactionEvent) or red10.redacts != msg.event_id:
        problems.append(f"room version 10: nio could not parse the redaction: {red10.source}")
    if content(red10).get("redacts") != msg.event_id:
        problems.append(f"room version 10: no redacts in content: {red10.source}")
    assert not problems, "\n".join(problems)
