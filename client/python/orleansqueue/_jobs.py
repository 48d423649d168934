"""Job mode: callers enqueue payloads that workers run under the resource's limits, and follow them to their result."""
from __future__ import annotations

import asyncio
import os
import socket
from datetime import datetime
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Optional, Tuple, Union
from urllib.parse import quote

from ._times import parse_time
from .errors import JobCancelled, JobFailed, OrleansQueueError, Unavailable, from_problem
from .types import JobState, Priority

__all__ = ["Job", "JobContext", "JobOutput", "JobFailed", "JobCancelled"]

class Job:
    """A job as the silo answered it: its :class:`JobState`, progress, result or error, and (for a worker) its payload."""

    def __init__(self, view: Dict[str, Any]) -> None:
        self.view = view
        self.resource: str = view["resource"]
        self.id: int = view["id"]
        self.state: JobState = JobState(view["state"])
        self.progress: Optional[float] = view.get("progress")
        self.progress_message: Optional[str] = view.get("progressMessage")
        self.result: Any = view.get("result")
        self.error: Optional[str] = view.get("error")
        self.payload: Any = view.get("payload")
        self.attempts: int = view.get("attempts", 0)
        self.position: Optional[int] = view.get("position")
        self.output_length: int = view.get("outputLength", 0)

    @property
    def finished(self) -> bool:
        return self.state.finished

    def __repr__(self) -> str:
        return f"Job({self.resource!r}, {self.id}, {self.state.value!r}, progress={self.progress!r})"


class JobOutput:
    """A stretch of a job's output: ``text`` from byte ``offset`` (UTF-8, of everything its workers appended) up to
    ``next``, the offset to read after next time; ``complete`` once the job has finished and nothing more will come."""

    def __init__(self, view: Dict[str, Any]) -> None:
        self.view = view
        self.offset: int = view["offset"]
        self.text: str = view["text"]
        self.next: int = view["next"]
        self.length: int = view["length"]
        self.state: JobState = JobState(view["state"])
        self.complete: bool = view.get("complete", False)

    def __repr__(self) -> str:
        return f"JobOutput(offset={self.offset}, next={self.next}, text={self.text!r}, complete={self.complete})"


class JobContext:
    """What a worker's handler gets: the job (with its payload), and ways to report progress and append output."""

    def __init__(self, client: "JobsMixin", job: Job, worker_id: str) -> None:
        self._client = client
        self.job = job
        self.payload = job.payload
        self.worker_id = worker_id
        self.output_length = job.output_length
        self._appending = asyncio.Lock()

    async def append_output(self, text: str) -> None:
        """Appends ``text`` to the job's output, which its caller reads as it grows (it also keeps the job from timing
        out). Appends go one at a time, each at the offset where the output ends, so one repeated after a lost answer
        (the silo restarting) is made once. Raises :class:`OutputFull` past the resource's ``jobMaxOutputBytes``."""
        async with self._appending:
            body = {"workerId": self.worker_id, "text": text, "offset": self.output_length}
            await self._client._call_until_answered("POST", self._client._job_path(self.job.resource, self.job.id, "/output"), body)
            self.output_length += len(text.encode("utf-8"))

    async def report_progress(self, progress: float, message: Optional[str] = None) -> None:
        body: Dict[str, Any] = {"workerId": self.worker_id, "progress": progress}
        if message is not None:
            body["message"] = message
        await self._client._call("POST", self._client._job_path(self.job.resource, self.job.id, "/progress"), body)


class JobsMixin:
    """The job operations of :class:`orleansqueue.aio.Client`."""

    client_id: Optional[str]

    async def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:  # pragma: no cover
        raise NotImplementedError

    async def _call_until_answered(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
                                   within: float = 60.0) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _events(self, path: str) -> AsyncIterator[Tuple[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def _job_path(resource: str, id: Optional[int] = None, tail: str = "") -> str:
        base = f"/v1/resources/{quote(resource, safe='')}/jobs"
        return base + (f"/{id}" if id is not None else "") + tail

    async def enqueue(self, resource: str, payload: Any, load: int = 1, priority: Union[Priority, str] = Priority.NORMAL,
                      client_id: Optional[str] = None, deadline: Optional[float] = None,
                      idempotency_key: Optional[str] = None) -> Job:
        """Queues ``payload`` (any JSON value) for a worker; ``deadline`` (seconds) dead-letters it if no worker took it by then."""
        body: Dict[str, Any] = {"payload": payload, "load": load, "priority": Priority.of(priority).value}
        if client_id or self.client_id:
            body["clientId"] = client_id or self.client_id
        if deadline is not None:
            body["deadlineMs"] = int(deadline * 1000)
        if idempotency_key is not None:
            body["idempotencyKey"] = idempotency_key
        return Job(await self._call("POST", self._job_path(resource), body))

    async def get_job(self, resource: str, id: int) -> Job:
        return Job(await self._call("GET", self._job_path(resource, id)))

    async def cancel_job(self, resource: str, id: int) -> Job:
        """Cancels a queued job (a running one cannot be: the silo says so)."""
        return Job(await self._call("DELETE", self._job_path(resource, id)))

    async def job_output(self, resource: str, id: int, after: int = 0) -> JobOutput:
        """The job's output after byte ``after`` (0: from the start), up to about a MiB: read again after ``.next``
        (every few seconds, say) until ``.complete``."""
        return JobOutput(await self._call("GET", self._job_path(resource, id, f"/output?after={after}")))

    async def _job_events(self, path: Callable[[], str]) -> AsyncIterator[Tuple[str, Any]]:
        """A job's server-sent events, its stream opened again when it breaks (as when the silo restarts; ``path`` is
        asked again each time, so that it can resume); a refusal is raised. Ends when the resource is polling-only."""
        while True:
            try:
                async for name, data in self._events(path()):
                    if name == "problem":
                        if data.get("type", "").endswith(":push-disabled"):
                            return
                        error = from_problem(data.get("status", 500), data)
                        if isinstance(error, Unavailable):
                            break
                        raise error
                    yield name, data
            except (OSError, asyncio.IncompleteReadError):
                pass  # the silo went away: the job is kept; follow it again once the silo is back
            await asyncio.sleep(0.2)

    async def follow_output(self, resource: str, id: int, after: int = 0, poll_interval: float = 2.0) -> AsyncIterator[JobOutput]:
        """Yields the job's output as it grows, from byte ``after`` on, until the job has finished: pushed by its
        server-sent events (a stream that breaks is opened again after the last offset received, so nothing is missed or
        repeated); on a polling-only resource, read every ``poll_interval`` seconds."""
        async for name, data in self._job_events(lambda: self._job_path(resource, id, f"/events?after={after}")):
            if name == "output":
                stretch = JobOutput(data)
                after = stretch.next
                yield stretch
            elif JobState(data["state"]).finished:
                return  # the job's end comes after all its output
        while True:
            stretch = await self.job_output(resource, id, after)
            if stretch.next > after:
                after = stretch.next
                yield stretch
            if stretch.complete:
                return
            if stretch.next == stretch.length:
                await asyncio.sleep(poll_interval)

    async def watch_job(self, resource: str, id: int, poll_interval: float = 2.0) -> AsyncIterator[Job]:
        """Yields the job now, then after every change (state, progress), until it finishes. Pushed by server-sent events
        (a stream that breaks, as when the silo restarts, is opened again); on a polling-only resource it polls every
        ``poll_interval`` seconds instead."""
        last: Optional[Dict[str, Any]] = None
        async for name, data in self._job_events(lambda: self._job_path(resource, id, "/events")):
            if name == "output":
                continue  # the job's output: follow_output reads it
            if data != last:
                last = data
                job = Job(data)
                yield job
                if job.finished:
                    return
        while True:
            try:
                view = await self._call("GET", self._job_path(resource, id))
            except (OSError, asyncio.IncompleteReadError, Unavailable):
                view = last
            if view != last:
                last = view
                job = Job(view)
                yield job
                if job.finished:
                    return
            await asyncio.sleep(poll_interval)

    async def wait_for_result(self, resource: str, id: int, timeout: Optional[float] = None) -> Any:
        """Waits until the job finishes and returns its result. Raises :class:`JobFailed` when it was dead-lettered,
        :class:`JobCancelled` when it was cancelled, and ``asyncio.TimeoutError`` after ``timeout`` seconds."""
        async def follow() -> Job:
            job: Optional[Job] = None
            async for job in self.watch_job(resource, id):
                pass
            assert job is not None
            return job
        job = await asyncio.wait_for(follow(), timeout)
        if job.state is JobState.DEAD_LETTERED:
            raise JobFailed(job)
        if job.state is JobState.CANCELLED:
            raise JobCancelled(job)
        return job.result

    async def run_worker(self, resource: str, handler: Callable[[JobContext], Awaitable[Any]], worker_id: Optional[str] = None,
                         concurrency: int = 1, stop: Optional[asyncio.Event] = None, poll_wait: float = 20.0) -> None:
        """Takes jobs of ``resource`` and runs ``handler(context)`` on each, ``concurrency`` at a time, until ``stop`` is
        set (or the task is cancelled). A job is heartbeated while its handler runs, completed with what the handler
        returns (any JSON value), or failed with the exception's message (the silo retries it, then dead-letters it).
        Workers need an admin key: they see every tenant's payloads."""
        worker = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        stopping_event: asyncio.Event = stop or asyncio.Event()

        async def one_slot(slot: int) -> None:
            me = f"{worker}-{slot}" if concurrency > 1 else worker
            while not stopping_event.is_set():
                taking = asyncio.ensure_future(self._call("POST", self._job_path(resource, tail="/take"),
                                                          {"workerId": me, "waitMs": int(poll_wait * 1000)}))
                stopping = asyncio.ensure_future(stopping_event.wait())
                done, _ = await asyncio.wait({taking, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if taking not in done:
                    taking.cancel()
                    return
                try:
                    view = taking.result()
                except (OrleansQueueError, OSError):
                    await asyncio.sleep(0.5)  # the silo restarting or the resource moving: take again shortly
                    continue
                if view is None:
                    continue  # 204: no job came within the wait
                await self._run_one(Job(view), me, handler)

        await asyncio.gather(*(one_slot(i) for i in range(concurrency)))

    async def _run_one(self, job: Job, worker: str, handler: Callable[[JobContext], Awaitable[Any]]) -> None:
        heartbeat = asyncio.ensure_future(self._heartbeat(job, worker))
        try:
            result = await handler(JobContext(self, job, worker))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the handler's failure is the job's: report it, keep working
            heartbeat.cancel()
            await self._report(job, worker, "/fail", {"workerId": worker, "error": f"{type(error).__name__}: {error}"})
            return
        heartbeat.cancel()
        await self._report(job, worker, "/complete", {"workerId": worker, "result": result})

    async def _heartbeat(self, job: Job, worker: str) -> None:
        """Heartbeats at a third of the job's visibility timeout, so that the silo never hands it to another worker."""
        visible_until = parse_time(job.view.get("visibleUntil"))
        timeout = (visible_until - datetime.now(visible_until.tzinfo)).total_seconds() if visible_until else 30.0
        while True:
            await asyncio.sleep(max(0.1, timeout / 3))
            try:
                await self._call("POST", self._job_path(job.resource, job.id, "/heartbeat"), {"workerId": worker})
            except (OrleansQueueError, OSError):
                pass  # lost to another worker, or the silo is restarting: the report at the end says which

    async def _report(self, job: Job, worker: str, tail: str, body: Dict[str, Any]) -> None:
        # Repeated while the silo restarts or the resource moves: the same worker's completion is taken once, and a
        # failure repeated after it took effect is refused (the job is no longer this worker's).
        try:
            await self._call_until_answered("POST", self._job_path(job.resource, job.id, tail), body)
        except OrleansQueueError:
            pass  # the job went back to the queue (visibility timeout) or ended: another attempt answers for it
