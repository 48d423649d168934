"""The synchronous facade for scripts that are not async: ``with orleansqueue.acquire("openai-gpt4", load=2000):``.
The waiting, the lease's renewals and its release run on an event loop in a thread of the facade's own."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Optional

from . import aio


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="orleansqueue", daemon=True)
        self._thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class acquire:
    """``with acquire(resource, ...) as lease:`` — the arguments of :func:`orleansqueue.aio.acquire`. The lease
    (``fencing_token``, ``expires_at``, ``lost``, ``actual_load``) renews itself and is released on leaving the block,
    also on an exception."""

    def __init__(self, resource: str, load: int = 1, priority: str = "normal", client_id: Optional[str] = None,
                 max_wait: Optional[float] = None, idempotency_key: Optional[str] = None,
                 api_key: Optional[str] = None, base_url: Optional[str] = None) -> None:
        self._args = (resource, load, priority, client_id, max_wait, idempotency_key)
        self._options = (base_url, api_key)
        self._loop: Optional[_LoopThread] = None
        self._client: Optional[aio.Client] = None
        self._lease: Optional[aio.Lease] = None

    def __enter__(self) -> aio.Lease:
        self._loop = _LoopThread()
        try:
            self._client = self._loop.run(_client(*self._options))
            self._lease = self._loop.run(self._client.acquire(*self._args))
        except BaseException:
            self._close()
            raise
        return self._lease

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._lease is not None and self._loop is not None:
                self._loop.run(self._lease.release())
        finally:
            self._close()

    def _close(self) -> None:
        if self._loop is None:
            return
        if self._client is not None:
            self._loop.run(self._client.close())
        self._loop.stop()
        self._loop = None


async def _client(base_url: Optional[str], api_key: Optional[str]) -> aio.Client:
    return aio.Client(base_url, api_key)  # made on the loop's thread, where its connections will live
