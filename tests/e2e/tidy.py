"""Deletes the big files of a passing test (pytest keeps the temporary directories of the last
three sessions, and a stress or fault test writes hundreds of MB); a failing test keeps
everything for a look. A conftest.py uses it with `from tidy import *`: pytest finds the hook
and the fixture among the conftest's names."""
import pytest

BIG = 1 << 20


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def delete_big_files_of_passing_tests(request, tmp_path):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is None or not rep.passed:
        return
    for p in tmp_path.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink() and p.stat().st_size > BIG:
                p.unlink()
        except OSError:
            pass


__all__ = ["pytest_runtest_makereport", "delete_big_files_of_passing_tests"]
