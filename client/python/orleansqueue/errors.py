"""Typed exceptions mirroring the silo's RFC 7807 problem types."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Optional, Type

PREFIX = "urn:orleansqueue:problem:"


class OrleansQueueError(Exception):
    """A refusal from the silo: its problem ``type``, HTTP ``status``, the ``field`` at fault and ``retry_after``
    (seconds) when the silo says when to try again."""

    def __init__(self, status: int, type: str, detail: str, field: Optional[str] = None,
                 retry_after: Optional[float] = None) -> None:
        super().__init__(detail)
        self.status = status
        self.type = type
        self.detail = detail
        self.field = field
        self.retry_after = retry_after


class QueueFull(OrleansQueueError):
    """The resource's waitlist is full (429)."""


class ClientQuotaExceeded(OrleansQueueError):
    """This client, or its tenant, has too many requests waiting (429: client-quota or tenant-quota)."""


class TimedOut(OrleansQueueError):
    """The request was not granted within its wait."""


class UnknownResource(OrleansQueueError):
    """No resource of that name (404)."""


class UnknownRequest(OrleansQueueError):
    """No request or lease of that id (404)."""


class InvalidRequest(OrleansQueueError):
    """The request broke a rule; ``field`` names the input at fault (400)."""


class InvalidLoad(InvalidRequest):
    """The load is not positive, or can never fit the resource's policy (400)."""


class Unauthorized(OrleansQueueError):
    """No API key, or an unknown one (401)."""


class Forbidden(OrleansQueueError):
    """The key may not do this (403)."""


class RequestEnded(OrleansQueueError):
    """The request or lease has already ended (409)."""


class Unavailable(OrleansQueueError):
    """The silo cannot serve this now, or the resource is moving (503); safe to retry."""


class ResourceDeleted(OrleansQueueError):
    """The resource was deleted while the request waited (410)."""


class PushDisabled(OrleansQueueError):
    """The resource is polling-only (409): the SDK falls back to long-poll by itself."""


class UnknownJob(OrleansQueueError):
    """No job of that id of yours (404); finished jobs are kept for the resource's retention."""


class JobFinished(OrleansQueueError):
    """The job has finished and takes no more reports (410)."""


class JobRunning(OrleansQueueError):
    """The job is running and cannot be cancelled (409)."""


class NotYourJob(OrleansQueueError):
    """The job is not running for this worker (409): its visibility timeout passed, or another worker has it."""


class OutputFull(OrleansQueueError):
    """An append would take the job's output past its resource's ``jobMaxOutputBytes`` (413); nothing was appended."""


class OutputConflict(OrleansQueueError):
    """The job's output does not end at the offset the worker gave, and the text there is not this one (409)."""


class JobFailed(OrleansQueueError):
    """The job was dead-lettered: every attempt failed (``job.error`` says the last reason), or its deadline passed."""

    def __init__(self, job: Any) -> None:
        super().__init__(409, "urn:orleansqueue:job:dead-lettered", job.error or "The job was dead-lettered.")
        self.job = job


class JobCancelled(OrleansQueueError):
    """The job was cancelled before a worker took it."""

    def __init__(self, job: Any) -> None:
        super().__init__(409, "urn:orleansqueue:job:cancelled", "The job was cancelled.")
        self.job = job


def _load_table() -> Dict[str, Any]:
    with open(os.path.join(os.path.dirname(__file__), "problem_types.json"), encoding="utf-8") as table:
        loaded: Dict[str, Any] = json.load(table)
        return loaded


# The one table of problem types, shared with the .NET SDK: each type names an error, raised here as the class of that name.
_TABLE = _load_table()
_BY_TYPE: Dict[str, Type[OrleansQueueError]] = {kind: globals()[entry["error"]] for kind, entry in _TABLE["types"].items()}


def from_problem(status: int, body: Mapping[str, Any]) -> OrleansQueueError:
    """The exception for a problem body the silo answered with."""
    type = str(body.get("type", ""))
    kind = _BY_TYPE.get(type[len(PREFIX):] if type.startswith(PREFIX) else type, OrleansQueueError)
    retry_ms = body.get("retryAfterMs")
    return kind(status, type, str(body.get("detail") or body.get("title") or f"HTTP {status}"),
                body.get("field"), retry_ms / 1000.0 if isinstance(retry_ms, (int, float)) else None)


def from_ending(state: str, reason: Optional[str], detail: str) -> OrleansQueueError:
    """The exception for a request that left the waitlist as ``state`` (with ``reason`` when rejected) without a lease."""
    endings = _TABLE["endings"]
    kind = endings.get(f"{state}/{reason}" if reason else state) or endings.get(state) or endings["*"]
    entry = _TABLE["types"][kind]
    return from_problem(entry["status"], {"type": PREFIX + kind, "field": entry.get("field"), "detail": detail})
