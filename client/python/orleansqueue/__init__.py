"""OrleansQueue's Python SDK over the silo's HTTP gateway (standard library only). See ``orleansqueue.aio``;
``orleansqueue.acquire`` is the synchronous facade."""
from .errors import (ClientQuotaExceeded, Forbidden, InvalidRequest, JobCancelled, JobFailed, JobFinished, JobRunning,
                     NotYourJob, OrleansQueueError, PushDisabled, QueueFull, RequestEnded, ResourceDeleted, TimedOut,
                     Unauthorized, Unavailable, UnknownJob, UnknownRequest, UnknownResource)
from .sync import acquire

__all__ = ["acquire", "ClientQuotaExceeded", "Forbidden", "InvalidRequest", "JobCancelled", "JobFailed", "JobFinished",
           "JobRunning", "NotYourJob", "OrleansQueueError", "PushDisabled", "QueueFull", "RequestEnded", "ResourceDeleted",
           "TimedOut", "Unauthorized", "Unavailable", "UnknownJob", "UnknownRequest", "UnknownResource"]
