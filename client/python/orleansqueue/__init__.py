"""OrleansQueue's Python SDK over the silo's HTTP gateway (standard library only). See ``orleansqueue.aio``."""
from .errors import (ClientQuotaExceeded, Forbidden, InvalidRequest, OrleansQueueError, QueueFull, RequestEnded,
                     TimedOut, Unauthorized, Unavailable, UnknownRequest, UnknownResource)

__all__ = ["ClientQuotaExceeded", "Forbidden", "InvalidRequest", "OrleansQueueError", "QueueFull", "RequestEnded",
           "TimedOut", "Unauthorized", "Unavailable", "UnknownRequest", "UnknownResource"]
