"""A tool the test tier needs but setup did not provide: a failure under CI, a skip elsewhere.

CI runs ``hack/setup.sh`` first, so a missing binary there is a broken setup that must not pass
as a skipped test; a developer who has not run setup gets a skip that says what to run.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(what: str, *, hint: str) -> NoReturn:
    message = f"{what} is missing: {hint}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
