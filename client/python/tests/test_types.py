"""The package type-checks with mypy --strict (Debian's python3-mypy, for /usr/bin/python3), with no type: ignore left."""
from __future__ import annotations

import os
import re
import subprocess
import unittest

from orleansqueue import JobState, Priority, Request, RequestState

HERE = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CONTRACTS = os.path.abspath(os.path.join(HERE, "..", "..", "grains", "OrleansQueue.Contracts"))


def members(file: str, enum: str) -> list:
    """The member names of a C# enum of the contracts, as the silo writes them (camelCase)."""
    with open(os.path.join(CONTRACTS, file), encoding="utf-8") as source:
        body = source.read().split(f"enum {enum}", 1)[1].split("}", 1)[0]
    names = re.findall(r"^\s*([A-Z][A-Za-z]+)\s*(?:=\s*\d+)?\s*,?\s*$", body, re.MULTILINE)
    return [n[0].lower() + n[1:] for n in names]
MYPY = "/usr/bin/python3"


class TypeTests(unittest.TestCase):
    def test_the_package_type_checks_strictly(self) -> None:
        if not os.path.exists(MYPY) or subprocess.run([MYPY, "-c", "import mypy"], capture_output=True).returncode != 0:
            self.skipTest("mypy is not installed for /usr/bin/python3 (Debian: apt-get install python3-mypy; .ci/run does)")
        checked = subprocess.run([MYPY, "-m", "mypy", "--strict", "--no-incremental", "orleansqueue"], cwd=HERE, capture_output=True, text=True,
                                 env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")})
        self.assertEqual(0, checked.returncode, checked.stdout + checked.stderr)

    def test_no_type_ignore_is_left(self) -> None:
        for name in os.listdir(os.path.join(HERE, "orleansqueue")):
            if name.endswith(".py"):
                with open(os.path.join(HERE, "orleansqueue", name), encoding="utf-8") as source:
                    self.assertNotIn("type: ignore", source.read(), name)


class EnumTests(unittest.TestCase):
    def test_the_enums_name_what_the_silo_answers_and_fail_on_drift(self) -> None:
        self.assertEqual(members("Priority.cs", "Priority"), [p.value for p in Priority])
        self.assertEqual(members("JobState.cs", "JobState"), [s.value for s in JobState])
        # The request phases a request can be in (the rest are events of jobs, polls and moves, never a request's state).
        phases = members("RequestUpdate.cs", "RequestPhase")
        self.assertEqual(phases[:phases.index("unknown") + 1], [s.value for s in RequestState])

    def test_priorities_are_read_by_name_in_any_case_and_a_wrong_one_names_the_levels(self) -> None:
        self.assertIs(Priority.HIGH, Priority.of("HIGH"))
        self.assertIs(Priority.LOW, Priority.of(Priority.LOW))
        with self.assertRaisesRegex(ValueError, "priority must be one of critical, high, normal, low, background; it is 'urgent'"):
            Priority.of("urgent")

    def test_a_request_view_reads_into_its_typed_form(self) -> None:
        request = Request.of("r", {"id": 3, "state": "held", "fencingToken": 9, "expiresAt": "2026-12-07T10:00:00.1234567Z"})
        self.assertEqual((3, RequestState.HELD, 9), (request.id, request.state, request.fencing_token))
        self.assertEqual(123456, request.expires_at.microsecond)
        self.assertIs(RequestState.UNKNOWN, Request.of("r", {"id": 1, "state": "somethingNew"}).state)
        self.assertTrue(JobState.DEAD_LETTERED.finished and not JobState.RETRYING.finished)
        self.assertEqual("completed", JobState.COMPLETED)  # str enums: code that compared names keeps working


if __name__ == "__main__":
    unittest.main()
