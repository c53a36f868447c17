"""The tests here write hundreds of MB: a passing test's big files are deleted (tests/e2e/tidy.py)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))
from tidy import *  # noqa: E402,F401,F403


def pytest_sessionstart(session):
    """Each run's report starts empty (faultlib.report appends to $SL_FAULT_REPORT)."""
    import os
    path = os.environ.get("SL_FAULT_REPORT")
    if path and os.path.exists(path):
        os.unlink(path)
