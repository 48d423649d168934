"""The SDK's typed values: priorities, the states of requests and jobs (``str`` enums, so that they compare equal to
the silo's names), and a request as the silo answered it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Mapping, Optional, Union

from ._times import parse_time


class Priority(str, Enum):
    """How urgent a request is: strict levels, the first served first."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"
    BACKGROUND = "background"

    @classmethod
    def of(cls, value: Union["Priority", str]) -> "Priority":
        """``value`` as a priority (a member, or its name in any case); ValueError naming the levels otherwise."""
        try:
            return cls(value.lower() if isinstance(value, str) else value)
        except ValueError:
            raise ValueError(f"priority must be one of {', '.join(p.value for p in cls)}; it is {value!r}") from None


class RequestState(str, Enum):
    """Where a ticket or lease is in its life."""

    WAITING = "waiting"
    GRANTED = "granted"
    HELD = "held"
    RELEASED = "released"
    CANCELLED = "cancelled"
    TIMED_OUT = "timedOut"
    REJECTED = "rejected"
    EXPIRED = "expired"
    RECLAIMED = "reclaimed"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, value: str) -> "RequestState":
        """The state the silo named (a state this SDK does not know reads as UNKNOWN)."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


class JobState(str, Enum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    COMPLETED = "completed"
    DEAD_LETTERED = "deadLettered"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.COMPLETED, JobState.DEAD_LETTERED, JobState.CANCELLED)


@dataclass(frozen=True)
class Request:
    """A ticket or lease as the silo answered it."""

    resource: str
    id: int
    state: RequestState
    position: Optional[int] = None
    fencing_token: Optional[int] = None
    expires_at: Optional[datetime] = None
    granted_at: Optional[datetime] = None
    reason: Optional[str] = None

    @classmethod
    def of(cls, resource: str, view: Mapping[str, Any]) -> "Request":
        return cls(resource, int(view["id"]), RequestState.of(str(view["state"])), view.get("position"), view.get("fencingToken"),
                   parse_time(view.get("expiresAt")), parse_time(view.get("grantedAt")), view.get("reason"))


__all__ = ["Priority", "RequestState", "JobState", "Request"]
