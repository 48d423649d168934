"""Times as the silo writes them (ISO 8601 with up to 7 fractional digits)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional


def parse_time(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    # .NET writes up to 7 fractional digits; fromisoformat takes 6.
    head, _, rest = value.partition(".")
    if rest:
        digits = "".join(c for c in rest if c.isdigit())
        value = f"{head}.{digits[:6]}{rest[len(digits):]}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
