"""The tests here write hundreds of MB: a passing test's big files are deleted (tests/e2e/tidy.py)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))
from tidy import *  # noqa: E402,F401,F403
