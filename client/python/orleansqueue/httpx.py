"""Queue every request an ``httpx`` client makes, in one line: ``httpx.AsyncClient(transport=QueuedTransport("openai-gpt4"))``,
so that ``AsyncOpenAI(http_client=...)`` or ``Anthropic(http_client=...)`` waits for a slot of the resource before each
call. ``httpx`` is an optional dependency, imported only by this module (``pip install orleansqueue[httpx]``).

Each request acquires a lease (its load from ``load=`` or ``estimate(request)``), goes out through the inner transport,
and the response's status and headers are reported to the resource (its rate-limit headers, a 429 and its retry-after,
so an adaptive resource learns from them); the lease is held until the response's body has been read or closed (a
streamed answer keeps its slot while it streams), then released."""
from __future__ import annotations

from typing import AsyncIterator, Callable, Iterator, Optional, Tuple

import httpx

from . import aio, sync

Estimate = Callable[[httpx.Request], int]


class _Acquire:
    """What each request of a transport acquires: its resource, priority, client and wait, and its load."""

    def __init__(self, resource: str, load: int, estimate: Optional[Estimate], priority: str, client_id: Optional[str],
                 max_wait: Optional[float]) -> None:
        self.resource, self.load, self.estimate = resource, load, estimate
        self.priority, self.client_id, self.max_wait = priority, client_id, max_wait

    def arguments(self, request: httpx.Request) -> Tuple[str, int, str, Optional[str], Optional[float]]:
        load = self.estimate(request) if self.estimate is not None else self.load
        return self.resource, load, self.priority, self.client_id, self.max_wait


class QueuedTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` that queues each request on ``resource`` (see the module). ``client`` is an
    :class:`orleansqueue.aio.Client` to share (else one of its own, from ``base_url``, ``api_key`` and the environment);
    ``transport`` the one that sends (``httpx.AsyncHTTPTransport()`` by default)."""

    def __init__(self, resource: str, *, load: int = 1, estimate: Optional[Estimate] = None, priority: str = "normal",
                 client_id: Optional[str] = None, max_wait: Optional[float] = None, client: Optional[aio.Client] = None,
                 base_url: Optional[str] = None, api_key: Optional[str] = None,
                 transport: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self._acquire = _Acquire(resource, load, estimate, priority, client_id, max_wait)
        self._owns_client = client is None
        self._client = client or aio.Client(base_url, api_key)
        self._inner = transport or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        lease = await self._client.acquire(*self._acquire.arguments(request))
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            await lease.release()
            raise
        lease.answered(response.status_code, response.headers.items())
        return httpx.Response(response.status_code, headers=response.headers, stream=_ReleasingAsyncStream(response, lease),
                              extensions=response.extensions, request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()
        if self._owns_client:
            await self._client.close()


class SyncQueuedTransport(httpx.BaseTransport):
    """The same for a synchronous ``httpx.Client`` (``OpenAI(http_client=httpx.Client(transport=SyncQueuedTransport(...)))``),
    on an :class:`orleansqueue.Client` (the process's one loop thread renews the leases)."""

    def __init__(self, resource: str, *, load: int = 1, estimate: Optional[Estimate] = None, priority: str = "normal",
                 client_id: Optional[str] = None, max_wait: Optional[float] = None, client: Optional[sync.Client] = None,
                 base_url: Optional[str] = None, api_key: Optional[str] = None, transport: Optional[httpx.BaseTransport] = None) -> None:
        self._acquire = _Acquire(resource, load, estimate, priority, client_id, max_wait)
        self._owns_client = client is None
        self._client = client or sync.Client(base_url, api_key)
        self._inner = transport or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        lease = self._client.acquire(*self._acquire.arguments(request))
        try:
            response = self._inner.handle_request(request)
        except BaseException:
            lease.release()
            raise
        lease.answered(response.status_code, response.headers.items())
        return httpx.Response(response.status_code, headers=response.headers, stream=_ReleasingSyncStream(response, lease),
                              extensions=response.extensions, request=request)

    def close(self) -> None:
        self._inner.close()
        if self._owns_client:
            self._client.close()


class _ReleasingAsyncStream(httpx.AsyncByteStream):
    """The inner response's body, passed on; closing it (httpx does once the body is read, or the response closed)
    releases the lease, reporting what the upstream answered."""

    def __init__(self, response: httpx.Response, lease: aio.Lease) -> None:
        self._response = response
        self._lease = lease

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_raw():
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._response.aclose()
        finally:
            await self._lease.release()


class _ReleasingSyncStream(httpx.SyncByteStream):
    def __init__(self, response: httpx.Response, lease: sync.Lease) -> None:
        self._response = response
        self._lease = lease

    def __iter__(self) -> Iterator[bytes]:
        yield from self._response.iter_raw()

    def close(self) -> None:
        try:
            self._response.close()
        finally:
            self._lease.release()


__all__ = ["QueuedTransport", "SyncQueuedTransport", "Estimate"]
