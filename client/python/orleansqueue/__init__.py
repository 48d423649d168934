"""OrleansQueue's Python SDK over the silo's HTTP gateway (standard library only). ``orleansqueue.aio.Client`` is the
asyncio client; ``orleansqueue.Client`` its synchronous twin, and ``orleansqueue.acquire`` the synchronous one-liner."""
import logging as _logging

__version__ = "0.1.0"

# Silent by default, as a library should be: the application's logging configuration decides what is shown.
_logging.getLogger("orleansqueue").addHandler(_logging.NullHandler())

from .errors import (ClientQuotaExceeded, Forbidden, InvalidLoad, InvalidRequest, JobCancelled, JobFailed, JobFinished, JobRunning,
                     NotYourJob, OrleansQueueError, OutputConflict, OutputFull, PushDisabled, QueueFull, RequestEnded, ResourceDeleted, TimedOut,
                     Unauthorized, Unavailable, UnknownJob, UnknownRequest, UnknownResource)
from .sync import Client, Lease, WorkerContext, acquire
from .types import JobState, Priority, Request, RequestState
from .upstream import parse_duration, parse_headers

__all__ = ["__version__", "Client", "Lease", "WorkerContext", "acquire", "JobState", "Priority", "Request", "RequestState", "parse_headers", "parse_duration", "ClientQuotaExceeded", "Forbidden", "InvalidLoad", "InvalidRequest", "JobCancelled", "JobFailed", "JobFinished",
           "JobRunning", "NotYourJob", "OrleansQueueError", "OutputConflict", "OutputFull", "PushDisabled", "QueueFull", "RequestEnded", "ResourceDeleted",
           "TimedOut", "Unauthorized", "Unavailable", "UnknownJob", "UnknownRequest", "UnknownResource"]
