"""Reads what an upstream said about its rate limits from a response's status and headers, for a lease to report.

OpenAI's (and Azure OpenAI's) ``x-ratelimit-limit|remaining|reset-requests|tokens`` with resets as durations such as
``6m0s`` or ``20ms``; Anthropic's ``anthropic-ratelimit-requests|tokens|input-tokens|output-tokens-limit|remaining|reset``
with resets as RFC 3339 times; the IETF's RateLimit fields (draft-ietf-httpapi-ratelimit-headers: ``RateLimit-Policy`` and
``RateLimit`` as lists of named policies with ``q``, ``w``, ``r``, ``t``, the tightest one read; the older
``RateLimit: limit=..., remaining=..., reset=...``, and ``RateLimit-Limit|Remaining|Reset``), as a request budget unless a
policy counts another unit; ``retry-after`` (seconds or an HTTP date) or ``retry-after-ms``. A figure that is missing,
negative (Azure's ``-1``), a limit of 0, or unparsable is left out rather than guessed.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ._times import parse_time

__all__ = ["parse_headers", "parse_duration"]

Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]

_MAX_MS = 86_400_000
_UNITS = {"h": 3_600_000.0, "m": 60_000.0, "s": 1_000.0, "ms": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([a-z]+)")


def parse_duration(text: Optional[str]) -> Optional[float]:
    """A duration as OpenAI writes it (``1s``, ``6m0s``, ``1h2m3.5s``, ``20ms``), in seconds; None when it is not one."""
    if not text or not text.strip():
        return None
    text = text.strip()
    total, pos = 0.0, 0
    for match in _PART.finditer(text):
        if match.start() != pos or match.group(2) not in _UNITS:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total / 1000 if pos == len(text) else None


def parse_headers(status: Optional[int], headers: Headers, now: Optional[datetime] = None) -> Dict[str, Any]:
    """The report of a response with ``status`` and ``headers`` (a mapping, e.g. ``response.headers``, or name-value
    pairs, names in any case), as the silo takes it: ``{"status", "retryAfterMs", "requests", "load"}``, figures left out
    when not said."""
    at = now or datetime.now(timezone.utc)
    items = headers.items() if hasattr(headers, "items") else headers
    h = {str(name).lower(): str(value).strip() for name, value in items}
    requests = (_budget(h, at, "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests")
                or _budget(h, at, "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
                           "anthropic-ratelimit-requests-reset")
                or _ietf_budget(h))
    load = (_budget(h, at, "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")
            or _budget(h, at, "anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining",
                       "anthropic-ratelimit-tokens-reset")
            or _tighter(_budget(h, at, "anthropic-ratelimit-input-tokens-limit", "anthropic-ratelimit-input-tokens-remaining",
                                "anthropic-ratelimit-input-tokens-reset"),
                        _budget(h, at, "anthropic-ratelimit-output-tokens-limit", "anthropic-ratelimit-output-tokens-remaining",
                                "anthropic-ratelimit-output-tokens-reset")))
    report: Dict[str, Any] = {}
    if isinstance(status, int) and 100 <= status <= 599:
        report["status"] = status
    retry = _retry_after_ms(h, at)
    if retry is not None:
        report["retryAfterMs"] = retry
    if requests:
        report["requests"] = requests
    if load:
        report["load"] = load
    return report


def _budget(h: Dict[str, str], now: datetime, limit_name: str, remaining_name: str, reset_name: str) -> Optional[Dict[str, int]]:
    limit, remaining = _count(h.get(limit_name)), _count(h.get(remaining_name))
    if limit == 0:
        limit = None  # Azure OpenAI: 0 where it has no figure
    if limit is not None and remaining is not None and remaining > limit:
        remaining = None
    reset = _reset_ms(h[reset_name], now) if reset_name in h else None
    budget = {k: v for k, v in (("limit", limit), ("remaining", remaining), ("resetMs", reset)) if v is not None}
    return budget or None


def _ietf_budget(h: Dict[str, str]) -> Optional[Dict[str, int]]:
    """``RateLimit: "name";r=remaining;t=seconds`` beside ``RateLimit-Policy: "name";q=quota;w=seconds`` (the policy with the
    least remaining when several are named, one counting another unit than requests left out); or the older
    ``RateLimit: limit=..., remaining=..., reset=...``; or ``RateLimit-Limit``, ``-Remaining``, ``-Reset``."""
    field = h.get("ratelimit")
    if field is None:
        return _ietf(_count(h.get("ratelimit-limit")), _count(h.get("ratelimit-remaining")), _count(h.get("ratelimit-reset")))
    members = _structured_list(field)
    if members and all(item in ("limit", "remaining", "reset") and value is not None and not params
                       for item, value, params in members):
        d = {item: value for item, value, _ in members}
        return _ietf(_count(d.get("limit")), _count(d.get("remaining")), _count(d.get("reset")))
    policies = {item: params for item, _, params in _structured_list(h.get("ratelimit-policy", ""))}
    tightest: Optional[Dict[str, int]] = None
    for item, _, params in members:
        policy = policies.get(item, {})
        if policy.get("qu", "requests") != "requests":
            continue
        tightest = _tighter(tightest, _ietf(_count(policy.get("q")), _count(params.get("r")), _count(params.get("t"))))
    return tightest


def _ietf(limit: Optional[int], remaining: Optional[int], reset_seconds: Optional[int]) -> Optional[Dict[str, int]]:
    if limit == 0:
        limit = None
    if limit is not None and remaining is not None and remaining > limit:
        remaining = None
    reset = _clamp(reset_seconds * 1000.0) if reset_seconds is not None else None
    budget = {k: v for k, v in (("limit", limit), ("remaining", remaining), ("resetMs", reset)) if v is not None}
    return budget or None


def _structured_list(field: str) -> List[Tuple[str, Optional[str], Dict[str, str]]]:
    """A structured-field list or dictionary (RFC 8941), as far as rate-limit fields use it: members split at commas, each
    an item (a token or a quoted string, unquoted) or a ``key=value``, then ``;key=value`` parameters (quotes dropped)."""
    def key_value(text: str) -> Tuple[str, Optional[str]]:
        key, eq, value = text.partition("=")
        return (key.strip().strip('"'), None) if not eq else (key.strip(), value.strip().strip('"'))

    members: List[Tuple[str, Optional[str], Dict[str, str]]] = []
    for member in (m.strip() for m in field.split(",")):
        if not member:
            continue
        parts = [p.strip() for p in member.split(";")]
        item, value = key_value(parts[0])
        params: Dict[str, str] = {}
        for part in parts[1:]:
            key, v = key_value(part)
            if key:
                params[key] = v if v is not None else "?1"
        if item:
            members.append((item, value, params))
    return members


def _tighter(a: Optional[Dict[str, int]], b: Optional[Dict[str, int]]) -> Optional[Dict[str, int]]:
    """Of two budgets, the one with less remaining (Anthropic's separate input and output tokens)."""
    if a is None or b is None:
        return a or b
    return b if b.get("remaining", math.inf) < a.get("remaining", math.inf) else a


def _count(text: Optional[str]) -> Optional[int]:
    return int(text) if text is not None and text.isdigit() else None


def _reset_ms(text: str, now: datetime) -> Optional[int]:
    seconds = parse_duration(text)
    if seconds is not None:
        return _clamp(seconds * 1000)
    if "T" in text:
        try:
            at = parse_time(text)
        except ValueError:
            return None
        if at is not None:
            if at.tzinfo is None:
                at = at.replace(tzinfo=timezone.utc)
            return _clamp((at - now).total_seconds() * 1000)
    return None


def _retry_after_ms(h: Dict[str, str], now: datetime) -> Optional[int]:
    if "retry-after-ms" in h:
        try:
            return _clamp(float(h["retry-after-ms"]))
        except ValueError:
            pass
    after = h.get("retry-after")
    if after is None:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", after):
        return _clamp(float(after) * 1000)
    try:
        date = parsedate_to_datetime(after)
    except (TypeError, ValueError, IndexError):
        return None
    if date is None:
        return None
    return _clamp((date - now).total_seconds() * 1000)


def _clamp(ms: float) -> Optional[int]:
    """Durations within what the silo takes (0 to a day); a time already passed is 0, nonsense is left out."""
    if not math.isfinite(ms) or ms > _MAX_MS:
        return None
    return int(math.ceil(max(0.0, ms)))
