"""OrleansQueue's Python SDK over the silo's HTTP gateway (standard library only). See ``orleansqueue.aio``;
``orleansqueue.acquire`` is the synchronous facade."""
from .errors import (ClientQuotaExceeded, Forbidden, InvalidLoad, InvalidRequest, JobCancelled, JobFailed, JobFinished, JobRunning,
                     NotYourJob, OrleansQueueError, PushDisabled, QueueFull, RequestEnded, ResourceDeleted, TimedOut,
                     Unauthorized, Unavailable, UnknownJob, UnknownRequest, UnknownResource)
from .sync import acquire
from .upstream import parse_duration, parse_headers

__all__ = ["acquire", "parse_headers", "parse_duration", "ClientQuotaExceeded", "Forbidden", "InvalidLoad", "InvalidRequest", "JobCancelled", "JobFailed", "JobFinished",
           "JobRunning", "NotYourJob", "OrleansQueueError", "PushDisabled", "QueueFull", "RequestEnded", "ResourceDeleted",
           "TimedOut", "Unauthorized", "Unavailable", "UnknownJob", "UnknownRequest", "UnknownResource"]
