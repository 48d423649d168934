"""The asyncio API: ``async with acquire("openai-gpt4", load=2000) as lease: ...``.

A waiting request is told of its grant by server-sent events (one notification, no status calls while it waits);
on a polling-only resource it long-polls instead, with no change to calling code. Leaving the ``async with``
releases the lease, also on an exception; cancelling the waiting task cancels the ticket on the silo.
"""
from __future__ import annotations

import asyncio
import logging
import os
import ssl
import uuid
from datetime import datetime
from typing import Any, AsyncIterator, Dict, Generator, List, Optional, Tuple, Union, cast
from urllib.parse import quote

from ._http import Http
from .types import Priority, Request, RequestState

# The SDK's log: silent unless the application configures logging (a NullHandler is set in the package). WARNING: a lease
# lost, a renewal that failed; INFO: a stream followed again after its connection broke; DEBUG: a call asked again.
log = logging.getLogger("orleansqueue")
from ._jobs import Job, JobCancelled, JobContext, JobFailed, JobOutput, JobsMixin
from ._times import parse_time as _time
from .errors import (PREFIX, OrleansQueueError, RequestEnded, ResourceDeleted, Unavailable, UnknownRequest, UnknownResource, from_ending,
                     from_problem)
from .upstream import Headers, parse_headers

__all__ = ["Client", "Lease", "acquire", "Job", "JobContext", "JobOutput", "JobFailed", "JobCancelled"]



class Lease:
    """A held slot. ``actual_load`` set before release corrects the resource's window by the difference;
    :meth:`answered` with the upstream's status and headers reports them at release (an adaptive resource learns from
    them). It renews itself while held; ``lost`` turns true if it expired or was reclaimed meanwhile."""

    def __init__(self, client: "Client", resource: str, view: Dict[str, Any]) -> None:
        self._client = client
        self.resource = resource
        self.request = Request.of(resource, view)  # as it was granted
        self.id: int = view["id"]
        self.fencing_token: int = view["fencingToken"]
        self.expires_at: Optional[datetime] = _time(view.get("expiresAt"))
        self.granted_at: Optional[datetime] = _time(view.get("grantedAt"))  # on the silo's clock
        self.actual_load: Optional[int] = None
        self.upstream: Optional[Dict[str, Any]] = None
        self.lost = False
        self._released = False
        self._release_key = uuid.uuid4().hex  # a release retried after a lost answer or a restart lands once
        self._renewer = asyncio.ensure_future(self._renew_loop())

    async def renew(self) -> None:
        """Extends the lease by one TTL."""
        view = await self._client._call("POST", self._path("/renew"))
        self.expires_at = _time(view.get("expiresAt"))

    def answered(self, status: Optional[int], headers: Headers) -> None:
        """Keeps what the upstream answered the call this lease protects (``response.status``, ``response.headers``),
        to report when the lease is released: ``lease.answered(response.status, response.headers)``."""
        self.upstream = parse_headers(status, headers)

    async def report(self, status: Optional[int], headers: Headers) -> None:
        """Reports what the upstream answered now, the lease staying held."""
        await self._client._call("POST", self._path("/report"), parse_headers(status, headers))

    async def release(self, actual_load: Optional[int] = None, status: Optional[int] = None,
                      headers: Optional[Headers] = None) -> None:
        """Releases the lease (once; later calls do nothing); ``actual_load`` corrects the window, and ``status`` with
        ``headers`` (or what :meth:`answered` kept) report the upstream's answer."""
        if self._released:
            return
        self._released = True
        self._renewer.cancel()
        if self.lost:
            return  # its slot came back already: there is nothing to release
        load = actual_load if actual_load is not None else self.actual_load
        body: Dict[str, Any] = {"idempotencyKey": self._release_key}
        if load is not None:
            body["actualLoad"] = load
        upstream = parse_headers(status, headers if headers is not None else {}) if headers is not None or status is not None else self.upstream
        if upstream:
            body["upstream"] = upstream
        try:
            await self._client._call_until_answered("POST", self._path("/release"), body)
        except (RequestEnded, UnknownRequest, UnknownResource) as gone:
            self._lose(gone)  # it had expired, or its resource was deleted: its concurrency came back already

    async def _renew_loop(self) -> None:
        while True:
            remaining = (self.expires_at - datetime.now(self.expires_at.tzinfo)).total_seconds() if self.expires_at else 30.0
            await asyncio.sleep(max(0.05, remaining * 0.5))
            try:
                await self.renew()
            except (RequestEnded, UnknownRequest, UnknownResource) as gone:
                self._lose(gone)
                return
            except (OrleansQueueError, OSError) as failed:
                # A silo restarting or a resource moving: try again while time is left.
                log.warning("Renewing lease %s of %s failed (%s); trying again", self.id, self.resource, failed)
                await asyncio.sleep(0.5)

    def _lose(self, reason: Exception) -> None:
        self.lost = True
        log.warning("Lease %s of %s was lost (%s): its slot is no longer held, and work done under it may be fenced out",
                    self.id, self.resource, reason)

    def _path(self, tail: str) -> str:
        return f"/v1/resources/{quote(self.resource, safe='')}/requests/{self.id}{tail}"

    async def __aenter__(self) -> "Lease":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.release()


class Client(JobsMixin):
    """The base URL, API key and connection pool of a silo; ``async with Client(...) as client:``.
    Defaults come from ``ORLEANSQUEUE_URL`` and ``ORLEANSQUEUE_API_KEY``. Acquires leases (:meth:`acquire`) and runs
    job mode (:meth:`enqueue`, :meth:`get_job`, :meth:`wait_for_result`, :meth:`watch_job`, :meth:`run_worker`)."""

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None,
                 client_id: Optional[str] = None, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        """``https://`` base URLs are checked against the system's trusted CAs, or against ``ssl_context``
        (``ssl.create_default_context(cafile="ca.pem")`` for a private CA)."""
        self.base_url: str = base_url or os.environ.get("ORLEANSQUEUE_URL") or "http://127.0.0.1:5080"
        self.client_id = client_id
        self._http = Http(self.base_url, api_key or os.environ.get("ORLEANSQUEUE_API_KEY"), ssl_context=ssl_context)

    async def acquire(self, resource: str, load: int = 1, priority: Union[Priority, str] = Priority.NORMAL, client_id: Optional[str] = None,
                      max_wait: Optional[float] = None, idempotency_key: Optional[str] = None) -> Lease:
        """Waits for a slot of ``resource`` and returns its lease. ``priority`` is a :class:`Priority` (or its name);
        ``max_wait`` is in seconds."""
        body: Dict[str, Any] = {"load": load, "priority": Priority.of(priority).value}
        if client_id or self.client_id:
            body["clientId"] = client_id or self.client_id
        if max_wait is not None:
            body["maxWaitMs"] = int(max_wait * 1000)
        # With a key, an acquire whose answer was lost (or told "moved") is asked again and answers the same ticket.
        body["idempotencyKey"] = idempotency_key if idempotency_key is not None else uuid.uuid4().hex
        acquiring = asyncio.ensure_future(self._call_until_answered("POST", f"/v1/resources/{quote(resource, safe='')}/acquire", body))
        try:
            view = await asyncio.shield(acquiring)
        except asyncio.CancelledError:
            # The silo may have queued the ticket already, its answer still on the way: once it comes, the ticket is
            # withdrawn (a grant that raced the cancel is released), so a cancelled acquire never waits out its max wait.
            await asyncio.shield(self._withdraw_when_answered(resource, acquiring))
            raise
        if RequestState.of(view["state"]) is RequestState.WAITING:
            try:
                view = await self._wait(resource, view["id"])
            except asyncio.CancelledError:
                await asyncio.shield(self._cancel(resource, view["id"]))
                raise
            except UnknownResource as gone:
                # The silo acknowledged this ticket, so its resource existed: unknown now, it was deleted while the ticket
                # waited (before the follower attached, the silo could not say so itself).
                raise ResourceDeleted(410, PREFIX + "resource-deleted",
                                      f'Resource "{resource}" was deleted while request {view["id"]} waited.', "resource") from gone
        return Lease(self, resource, view)

    # ---- resources (an admin key, when the silo has keys) ----

    async def put_resource(self, name: str, **policy: Any) -> Dict[str, Any]:
        """Creates resource ``name`` or replaces its policy; returns it as the silo stored it. The policy's fields are
        those of ``PUT /v1/resources/{name}`` in snake_case, durations in milliseconds: ``max_concurrent=20``,
        ``requests_per_window=500``, ``load_per_window=90000``, ``window_ms=60000``, ``lease_ttl_ms=…``,
        ``push_enabled=False``, … Omitted limits are unlimited; a field that breaks a rule raises :class:`InvalidRequest`
        naming it."""
        return await self._call("PUT", self._resource_path(name), {_camel(k): v for k, v in policy.items()})

    async def get_resource(self, name: str) -> Dict[str, Any]:
        """Resource ``name``: its policy and whether it pushes; :class:`UnknownResource` when there is none."""
        return await self._call("GET", self._resource_path(name))

    async def list_resources(self) -> List[Dict[str, Any]]:
        """Every resource, by name."""
        return cast(List[Dict[str, Any]], await self._json("GET", "/v1/resources"))

    async def delete_resource(self, name: str) -> None:
        """Deletes resource ``name``: its waiting requests are refused as deleted."""
        await self._call("DELETE", self._resource_path(name))

    async def stats(self, name: str) -> Dict[str, Any]:
        """Resource ``name``'s figures now: waiting by priority and client, leases, budget left, totals, wait percentiles."""
        return await self._call("GET", self._resource_path(name) + "/stats")

    @staticmethod
    def _resource_path(name: str) -> str:
        return f"/v1/resources/{quote(name, safe='')}"

    async def _wait(self, resource: str, id: int) -> Dict[str, Any]:
        """Waits for the ticket to leave the waitlist: pushed by server-sent events, or long-polled on a polling-only
        resource. A stream that breaks (the silo restarts, the resource moves) is opened again; the silo keeps the ticket.
        A ticket called unknown is asked about once more, after a pause, before the wait gives up: the answer may have come
        from an activation that was just replaced."""
        path = f"/v1/resources/{quote(resource, safe='')}/requests/{id}"
        view: Optional[Dict[str, Any]] = None
        polling = False
        asked_again = False
        while view is None and not polling:
            try:
                async for name, data in self._http.events(path + "/events"):
                    if name == "problem":
                        if data.get("type", "").endswith(":push-disabled"):
                            polling = True  # polling-only: long-poll below
                            break
                        error = from_problem(data.get("status", 500), data)
                        if isinstance(error, Unavailable):
                            break  # the resource is moving or the silo is starting: follow it again
                        if isinstance(error, UnknownRequest) and not asked_again:
                            asked_again = True
                            polling = True  # ask once more, by long-poll, below
                            await asyncio.sleep(0.2)
                            break
                        raise error
                    if RequestState.of(name) is not RequestState.WAITING:
                        view = data
                        break
            except ssl.SSLCertVerificationError:
                raise
            except (OSError, asyncio.IncompleteReadError) as broken:
                # The silo went away: it keeps the ticket; follow it again once it is back.
                log.info("The stream of request %s of %s broke (%s); following it again", id, resource, broken or type(broken).__name__)
            if view is None and not polling:
                await asyncio.sleep(0.2)
        while view is None or RequestState.of(view["state"]) is RequestState.WAITING:
            try:
                view = await self._call("GET", path + "/wait?timeoutMs=30000")
            except ssl.SSLCertVerificationError:
                raise
            except (OSError, asyncio.IncompleteReadError, Unavailable):
                await asyncio.sleep(0.2)
            except UnknownRequest:
                if asked_again:
                    raise
                asked_again = True
                await asyncio.sleep(0.2)
        # A pushed grant ("granted") is ours: the lease's release, or its first renewal halfway through the claim window,
        # claims it. A lease released quickly costs no claim.
        if RequestState.of(view["state"]) not in (RequestState.HELD, RequestState.GRANTED):
            raise _ended(view)
        return view

    async def _withdraw_when_answered(self, resource: str, acquiring: "asyncio.Future[Dict[str, Any]]") -> None:
        try:
            view = await asyncio.wait_for(acquiring, 30)
        except Exception:  # refused, unreachable or never answered: there is no ticket to withdraw
            return
        await self._cancel(resource, view["id"])

    async def _cancel(self, resource: str, id: int) -> None:
        try:
            await self._http.request("DELETE", f"/v1/resources/{quote(resource, safe='')}/requests/{id}")
        except OSError:
            pass

    async def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """A call whose answer is a JSON object."""
        return cast(Dict[str, Any], await self._json(method, path, body))

    async def _json(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        """A call's JSON answer, or the exception of the problem it answered."""
        status, data = await self._http.request(method, path, body)
        if status >= 400:
            raise from_problem(status, data or {})
        return data

    async def _call_until_answered(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
                                   within: float = 60.0) -> Dict[str, Any]:
        """A call that is safe to repeat (it carries an idempotency key, or changes nothing twice), repeated while the
        silo cannot be reached or answers 503 (the resource is moving, the silo is starting, a commit went unconfirmed),
        with a pause that doubles up to a second, for at most ``within`` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        pause = 0.05
        while True:
            try:
                return await self._call(method, path, body)
            except ssl.SSLCertVerificationError:
                raise  # a certificate that is not trusted stays so: asking again cannot help
            except (OSError, asyncio.IncompleteReadError, Unavailable) as failed:
                if asyncio.get_running_loop().time() + pause > deadline:
                    raise
                log.debug("%s %s failed (%s); asking again in %.2f s", method, path, failed, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    def _events(self, path: str) -> AsyncIterator[Tuple[str, Any]]:
        return self._http.events(path)

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class acquire:
    """``async with acquire(resource, ...) as lease:`` or ``lease = await acquire(resource, ...)``, on a client of
    its own (``api_key`` and ``base_url`` as for :class:`Client`)."""

    def __init__(self, resource: str, load: int = 1, priority: Union[Priority, str] = Priority.NORMAL, client_id: Optional[str] = None,
                 max_wait: Optional[float] = None, idempotency_key: Optional[str] = None,
                 api_key: Optional[str] = None, base_url: Optional[str] = None) -> None:
        self._client = Client(base_url, api_key)
        self._args = (resource, load, priority, client_id, max_wait, idempotency_key)
        self._lease: Optional[Lease] = None

    def __await__(self) -> Generator[Any, None, Lease]:
        return self._client.acquire(*self._args).__await__()

    async def __aenter__(self) -> Lease:
        try:
            self._lease = await self._client.acquire(*self._args)
        except BaseException:
            await self._client.close()
            raise
        return self._lease

    async def __aexit__(self, *exc: Any) -> None:
        try:
            if self._lease is not None:
                await self._lease.release()
        finally:
            await self._client.close()


def _ended(view: Dict[str, Any]) -> OrleansQueueError:
    """The exception for a request that left the waitlist without a grant, through the problem-type table."""
    state = view["state"]
    return from_ending(state, view.get("reason"), view.get("detail") or f"The request ended as {state}.")


def _camel(name: str) -> str:
    """``max_concurrent`` as the API spells it: ``maxConcurrent`` (a name already in camelCase is kept)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
