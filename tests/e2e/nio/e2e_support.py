"""Shared helpers for the matrix-nio end-to-end tests.

They drive a running axon-monolith (started by tests/e2e/nio.sh, which sets
AXON_E2E_BASE_URL and AXON_E2E_STATE) only through matrix-nio's AsyncClient: its typed
methods where nio has one, its raw request path (AsyncClient.send) for the error checks.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from typing import Any, Callable

from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    LoginResponse,
    MessageDirection,
    RegisterResponse,
    RoomMessagesResponse,
    SyncError,
    SyncResponse,
)

BASE_URL = os.environ.get("AXON_E2E_BASE_URL", "")
STATE_PATH = os.environ.get("AXON_E2E_STATE", "")
PASSWORD = "correct horse battery staple"
DEVICE_NAME = "nio-e2e"

# Every room timeline through /sync must arrive without gaps: the limit is above the
# number of events the scenario ever creates, so a server that sets "limited" anyway
# (or drops events) is caught instead of papered over.
SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 400}}}


def _config() -> AsyncClientConfig:
    # Fail fast instead of nio's default of retrying timeouts forever.
    return AsyncClientConfig(max_timeouts=3, max_limit_exceeded=5)


def client_for(user: str = "", access_token: str = "", device_id: str = "", user_id: str = "") -> AsyncClient:
    """A fresh nio client for AXON_E2E_BASE_URL, optionally already holding a session."""
    c = AsyncClient(BASE_URL, user, config=_config())
    if access_token:
        c.restore_login(user_id or user, device_id, access_token)
    return c


async def register(localpart: str, password: str = PASSWORD) -> RegisterResponse:
    """Registers through nio's register (one request completing m.login.dummy)."""
    c = client_for(localpart)
    try:
        resp = await c.register(localpart, password, DEVICE_NAME)
        assert isinstance(resp, RegisterResponse), f"register {localpart}: {resp}"
        return resp
    finally:
        await c.close()


async def login(localpart: str, password: str = PASSWORD) -> AsyncClient:
    """Logs in with m.login.password through nio and returns the logged-in client."""
    c = client_for(localpart)
    resp = await c.login(password, device_name=DEVICE_NAME)
    if not isinstance(resp, LoginResponse):
        await c.close()
        raise AssertionError(f"login {localpart}: {resp}")
    return c


def assert_error(resp: Any, http_status: int, errcode: str) -> None:
    """Asserts that a nio response is the spec's error JSON with this status and errcode."""
    assert isinstance(resp, ErrorResponse), f"expected {http_status} {errcode}, got {resp!r}"
    got = resp.transport_response.status if resp.transport_response is not None else None
    assert (got, resp.status_code) == (http_status, errcode), (
        f"expected {http_status} {errcode}, got {got} {resp.status_code}: {resp.message}"
    )


async def raw(client: AsyncClient, method: str, path: str, body: str | None = None,
              token: str | None = None) -> tuple[int, Any]:
    """Sends one request through nio's raw request path and returns (status, parsed JSON).

    token overrides the client's access token ("" sends none)."""
    bearer = client.access_token if token is None else token
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    resp = await client.send(method, path, body, headers)
    try:
        text = await resp.text()
        try:
            data = json.loads(text)
        except ValueError:
            data = text
        return resp.status, data
    finally:
        resp.release()


async def wait_for(what: str, cond: Callable[[], bool], timeout: float = 20.0,
                   recorders: tuple["SyncRecorder", ...] = ()) -> None:
    """Polls cond until it holds; fails on timeout or as soon as a recorder's sync failed."""
    end = time.monotonic() + timeout
    while True:
        for r in recorders:
            r.check()
        if cond():
            return
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.025)


class SyncRecorder:
    """Runs nio's sync_forever for one client and records what every /sync returned.

    It keeps, per room, the joined and left timelines in arrival order, the invite state
    of invites, and every gap ("limited") or error, so tests can check that each event
    arrives exactly once and in order."""

    def __init__(self, client: AsyncClient, name: str):
        self.client = client
        self.name = name
        self.timeline: dict[str, list[Any]] = {}
        self.left_timeline: dict[str, list[Any]] = {}
        self.invites: dict[str, list[Any]] = {}
        self.left_rooms: set[str] = set()
        self.limited: list[str] = []
        self.errors: list[SyncError] = []
        self.batches = 0
        self._first = asyncio.Event()
        self._task: asyncio.Task | None = None
        client.add_response_callback(self._on_sync, SyncResponse)
        client.add_response_callback(self._on_error, SyncError)

    async def _on_sync(self, resp: SyncResponse) -> None:
        first = self.batches == 0
        self.batches += 1
        for room_id, info in resp.rooms.join.items():
            tl = self.timeline.setdefault(room_id, [])
            if info.timeline.limited and not first and tl:
                self.limited.append(f"{room_id} (batch {self.batches})")
            tl.extend(info.timeline.events)
        for room_id, info in resp.rooms.invite.items():
            self.invites.setdefault(room_id, []).extend(info.invite_state)
        for room_id, info in resp.rooms.leave.items():
            self.left_rooms.add(room_id)
            self.left_timeline.setdefault(room_id, []).extend(info.timeline.events)
        self._first.set()

    async def _on_error(self, resp: SyncError) -> None:
        self.errors.append(resp)

    async def start(self) -> None:
        """Starts the sync loop and waits for the first (initial) sync."""
        self._task = asyncio.create_task(
            self.client.sync_forever(timeout=5000, sync_filter=SYNC_FILTER), name=f"sync-{self.name}")
        waiter = asyncio.create_task(self._first.wait())
        await asyncio.wait([self._task, waiter], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        self.check()
        assert self._first.is_set(), f"{self.name}: no initial /sync within 30 s"

    async def stop(self) -> None:
        """Stops the sync loop."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    def check(self) -> None:
        """Raises if the sync loop died or a /sync answered with an error."""
        if self._task is not None and self._task.done() and not self._task.cancelled():
            exc = self._task.exception()
            raise AssertionError(f"{self.name}: sync loop stopped: {exc!r}")
        assert not self.errors, f"{self.name}: /sync failed: {self.errors[0]}"

    def events(self, room_id: str, event_type: str | None = None) -> list[Any]:
        """Every timeline event of a joined room seen so far (optionally of one type)."""
        evs = self.timeline.get(room_id, [])
        if event_type is None:
            return list(evs)
        return [e for e in evs if e.source.get("type") == event_type]

    def ids(self, room_id: str, event_type: str | None = None) -> list[str]:
        """The event IDs of events(room_id, event_type), in arrival order."""
        return [e.event_id for e in self.events(room_id, event_type)]

    def duplicates(self, room_id: str) -> dict[str, int]:
        """Event IDs that arrived through /sync more than once in a room's timeline."""
        return {k: n for k, n in Counter(self.ids(room_id)).items() if n > 1}


async def all_messages(client: AsyncClient, room_id: str, page: int = 25) -> list[Any]:
    """Pages GET /messages backwards from the client's latest sync token until the start
    of the room and returns every event, oldest first."""
    assert client.next_batch, "all_messages needs a client that has synced"
    out: list[Any] = []
    token = client.next_batch
    for _ in range(200):
        resp = await client.room_messages(room_id, start=token, limit=page,
                                          direction=MessageDirection.back)
        assert isinstance(resp, RoomMessagesResponse), f"/messages: {resp}"
        out.extend(resp.chunk)
        if not resp.end or not resp.chunk:
            break
        assert resp.end != token, "/messages returned the same token it was given"
        token = resp.end
    else:
        raise AssertionError("/messages did not reach the start of the room in 200 pages")
    out.reverse()
    return out


def write_state(state: dict[str, Any]) -> None:
    """Hands phase 1's results to phase 2 through AXON_E2E_STATE."""
    with open(STATE_PATH, "w", encoding="utf-8") as f:
        json.dump(state, f)


def read_state() -> dict[str, Any]:
    """Reads what phase 1 wrote to AXON_E2E_STATE."""
    with open(STATE_PATH, encoding="utf-8") as f:
        return json.load(f)

