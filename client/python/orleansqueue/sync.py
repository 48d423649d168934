"""The synchronous SDK, for code that is not async: ``orleansqueue.Client`` is the twin of ``orleansqueue.aio.Client``
(the same methods, blocking), and ``with orleansqueue.acquire("openai-gpt4", load=2000):`` is the one-liner.

Every synchronous client of a process runs its calls, the waits, the leases' renewals and the workers on one event loop
in one daemon thread ("orleansqueue"), started on first use; each client keeps one connection pool on it."""
from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
import threading
from typing import Any, Callable, Coroutine, Dict, Iterator, List, Optional, TypeVar, Union

from . import aio
from ._jobs import Job, JobContext, JobOutput
from .types import Priority, Request
from .upstream import Headers

T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="orleansqueue", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("a synchronous orleansqueue call was made on the SDK's own loop thread (from a handler?): "
                               "use orleansqueue.aio there")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> "concurrent.futures.Future[T]":
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)


_lock = threading.Lock()
_shared: Optional[_LoopThread] = None


def _loop() -> _LoopThread:
    """The process's one loop thread, started on first use."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = _LoopThread()
        return _shared


class Lease:
    """A held lease, as :class:`orleansqueue.aio.Lease` (it renews itself on the SDK's loop); ``with`` releases it."""

    def __init__(self, loop: _LoopThread, lease: aio.Lease) -> None:
        self._loop = loop
        self._lease = lease

    @property
    def id(self) -> int:
        return self._lease.id

    @property
    def resource(self) -> str:
        return self._lease.resource

    @property
    def fencing_token(self) -> int:
        return self._lease.fencing_token

    @property
    def request(self) -> Request:
        return self._lease.request

    @property
    def lost(self) -> bool:
        return self._lease.lost

    @property
    def actual_load(self) -> Optional[int]:
        return self._lease.actual_load

    @actual_load.setter
    def actual_load(self, value: Optional[int]) -> None:
        self._lease.actual_load = value

    @property
    def expires_at(self) -> Any:
        return self._lease.expires_at

    def answered(self, status: Optional[int], headers: Headers) -> None:
        self._lease.answered(status, headers)

    def report(self, status: Optional[int], headers: Headers) -> None:
        self._loop.run(self._lease.report(status, headers))

    def renew(self) -> None:
        self._loop.run(self._lease.renew())

    def release(self, actual_load: Optional[int] = None, status: Optional[int] = None, headers: Optional[Headers] = None) -> None:
        self._loop.run(self._lease.release(actual_load, status, headers))

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


class WorkerContext:
    """What a synchronous worker's handler gets: the job (with its payload), and :meth:`report_progress`, which blocks."""

    def __init__(self, loop: _LoopThread, context: JobContext) -> None:
        self._loop = loop
        self._context = context
        self.job = context.job
        self.payload = context.payload
        self.worker_id = context.worker_id

    def report_progress(self, progress: float, message: Optional[str] = None) -> None:
        self._loop.run(self._context.report_progress(progress, message))

    def append_output(self, text: str) -> None:
        """Appends ``text`` to the job's output (see :meth:`orleansqueue.aio.JobContext.append_output`); blocks."""
        self._loop.run(self._context.append_output(text))


class Client:
    """The synchronous twin of :class:`orleansqueue.aio.Client` (the same arguments and methods, blocking): leases,
    resources, jobs and workers. ``with Client(...) as client:`` closes its connections at the end."""

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None, client_id: Optional[str] = None,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self._loop = _loop()
        self._client = self._loop.run(_client(base_url, api_key, client_id, ssl_context))

    @property
    def base_url(self) -> str:
        return self._client.base_url

    def acquire(self, resource: str, load: int = 1, priority: Union[Priority, str] = Priority.NORMAL, client_id: Optional[str] = None,
                max_wait: Optional[float] = None, idempotency_key: Optional[str] = None) -> Lease:
        """Waits for a slot of ``resource`` and returns its lease (``with client.acquire(...) as lease:`` releases it).
        ``max_wait`` is in seconds. An interrupt (Ctrl-C) while waiting withdraws the ticket."""
        waiting = self._loop.submit(self._client.acquire(resource, load, priority, client_id, max_wait, idempotency_key))
        try:
            return Lease(self._loop, waiting.result())
        except BaseException:
            waiting.cancel()  # cancels the acquire on the loop, which withdraws its ticket
            raise

    def put_resource(self, name: str, **policy: Any) -> Dict[str, Any]:
        return self._loop.run(self._client.put_resource(name, **policy))

    def get_resource(self, name: str) -> Dict[str, Any]:
        return self._loop.run(self._client.get_resource(name))

    def list_resources(self) -> List[Dict[str, Any]]:
        return self._loop.run(self._client.list_resources())

    def delete_resource(self, name: str) -> None:
        self._loop.run(self._client.delete_resource(name))

    def stats(self, name: str) -> Dict[str, Any]:
        return self._loop.run(self._client.stats(name))

    def enqueue(self, resource: str, payload: Any, load: int = 1, priority: Union[Priority, str] = Priority.NORMAL, client_id: Optional[str] = None,
                deadline: Optional[float] = None, idempotency_key: Optional[str] = None) -> Job:
        return self._loop.run(self._client.enqueue(resource, payload, load, priority, client_id, deadline, idempotency_key))

    def get_job(self, resource: str, id: int) -> Job:
        return self._loop.run(self._client.get_job(resource, id))

    def cancel_job(self, resource: str, id: int) -> Job:
        return self._loop.run(self._client.cancel_job(resource, id))

    def wait_for_result(self, resource: str, id: int, timeout: Optional[float] = None) -> Any:
        return self._loop.run(self._client.wait_for_result(resource, id, timeout))

    def job_output(self, resource: str, id: int, after: int = 0) -> JobOutput:
        return self._loop.run(self._client.job_output(resource, id, after))

    def follow_output(self, resource: str, id: int, after: int = 0, poll_interval: float = 2.0) -> Iterator[JobOutput]:
        """The job's output as it grows, until the job has finished (a generator, as :meth:`watch_job`)."""
        stream = self._client.follow_output(resource, id, after, poll_interval)
        while True:
            try:
                yield self._loop.run(_next(stream))
            except StopAsyncIteration:
                return

    def watch_job(self, resource: str, id: int, poll_interval: float = 2.0) -> Iterator[Job]:
        """Each change of the job, until it finishes (a generator: the job's stream is followed on the SDK's loop)."""
        stream = self._client.watch_job(resource, id, poll_interval)
        while True:
            try:
                yield self._loop.run(_next(stream))
            except StopAsyncIteration:
                return

    def run_worker(self, resource: str, handler: Callable[["WorkerContext"], Any], worker_id: Optional[str] = None,
                   concurrency: int = 1, stop: Optional[threading.Event] = None, poll_wait: float = 20.0) -> None:
        """Runs ``handler(context)`` on each job of ``resource``, ``concurrency`` at a time, until ``stop`` is set, as
        :meth:`orleansqueue.aio.Client.run_worker` does: the handler is a plain function, run in a thread of its own per job
        (so it may block), and ``context.report_progress`` blocks until the silo has it."""
        stopping = asyncio.Event()

        async def run_handler(context: JobContext) -> Any:
            return await asyncio.to_thread(handler, WorkerContext(self._loop, context))

        working = self._loop.submit(self._client.run_worker(resource, run_handler, worker_id, concurrency, stopping, poll_wait))
        if stop is not None:
            told = stop

            def relay() -> None:
                told.wait()
                self._loop.loop.call_soon_threadsafe(stopping.set)
            threading.Thread(target=relay, name="orleansqueue-stop", daemon=True).start()
        try:
            working.result()
        except BaseException:
            working.cancel()
            raise

    def close(self) -> None:
        self._loop.run(self._client.close())

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class acquire:
    """``with acquire(resource, ...) as lease:`` — the arguments of :meth:`Client.acquire`, and a client of its own for
    the block (``api_key``, ``base_url`` and ``ssl_context`` as for :class:`Client`). The lease (``fencing_token``,
    ``expires_at``, ``lost``, ``actual_load``) renews itself and is released on leaving the block, also on an exception."""

    def __init__(self, resource: str, load: int = 1, priority: Union[Priority, str] = Priority.NORMAL, client_id: Optional[str] = None,
                 max_wait: Optional[float] = None, idempotency_key: Optional[str] = None,
                 api_key: Optional[str] = None, base_url: Optional[str] = None, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self._args = (resource, load, priority, client_id, max_wait, idempotency_key)
        self._options = (base_url, api_key, ssl_context)
        self._client: Optional[Client] = None
        self._lease: Optional[Lease] = None

    def __enter__(self) -> Lease:
        base_url, api_key, ssl_context = self._options
        client = self._client = Client(base_url, api_key, ssl_context=ssl_context)
        try:
            self._lease = client.acquire(*self._args)
        except BaseException:
            client.close()
            raise
        return self._lease

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._lease is not None:
                self._lease.release()
        finally:
            if self._client is not None:
                self._client.close()


async def _client(base_url: Optional[str], api_key: Optional[str], client_id: Optional[str], ssl_context: Optional[ssl.SSLContext]) -> aio.Client:
    return aio.Client(base_url, api_key, client_id, ssl_context)  # made on the loop's thread, where its connections will live


async def _next(stream: Any) -> Any:
    return await stream.__anext__()
