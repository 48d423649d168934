"""The package type-checks with mypy --strict (Debian's python3-mypy, for /usr/bin/python3), with no type: ignore left."""
from __future__ import annotations

import os
import subprocess
import unittest

HERE = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
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


if __name__ == "__main__":
    unittest.main()
