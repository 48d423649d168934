"""OrleansQueue's Python SDK over the silo's HTTP gateway (standard library only). See ``orleansqueue.aio``;
``orleansqueue.acquire`` is the synchronous facade."""
import logging as _logging

__version__ = "0.1.0"

# Silent by default, as a library should be: the application's logging configuration decides what is shown.
_logging.getLogger("orleansqueue").addHandler(_logging.NullHandler())

from .errors import (ClientQuotaExceeded, Forbidden, InvalidLoad, InvalidRequest, JobCancelled, JobFailed, JobFinished, JobRunning,
                     NotYourJob, OrleansQueueError, PushDisabled, QueueFull, RequestEnded, ResourceDeleted, TimedOut,
                     Unauthorized, Unavailable, UnknownJob, UnknownRequest, UnknownResource)
from .sync import acquire
from .upstream import parse_duration, parse_headers

__all__ = ["__version__", "acquire", "parse_headers", "parse_duration", "ClientQuotaExceeded", "Forbidden", "InvalidLoad", "InvalidRequest", "JobCancelled", "JobFailed", "JobFinished",
           "JobRunning", "NotYourJob", "OrleansQueueError", "PushDisabled", "QueueFull", "RequestEnded", "ResourceDeleted",
           "TimedOut", "Unauthorized", "Unavailable", "UnknownJob", "UnknownRequest", "UnknownResource"]
