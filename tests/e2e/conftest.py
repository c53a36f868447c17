"""Shared fixtures for the end-to-end tests: where the built binaries are, and how to run them."""
import os
import pathlib
import subprocess

import pytest

import rsyslog_ref

SRC = pathlib.Path(os.environ.get("SLUICE_SRC", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("SLUICE_BUILD", SRC / "build"))


@pytest.fixture(scope="session")
def sluicectl():
    path = BUILD / "sluicectl"
    if not path.exists():
        pytest.fail(f"{path} not built; build first or set SLUICE_BUILD")
    return str(path)


@pytest.fixture(scope="session")
def run_sluicectl(sluicectl):
    """A function running `sluicectl parse ARGS` with DATA (bytes) on stdin; returns the
    CompletedProcess (stdout, stderr as bytes). The time zone is the one the rsyslog reference
    runs in (rsyslog_ref.ENV_TZ), so that timestamps without a zone read the same in both."""

    def run(args, data, timeout=300):
        env = dict(os.environ)
        env.update(rsyslog_ref.ENV_TZ)
        return subprocess.run(
            [sluicectl, "parse", *args],
            input=data,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            timeout=timeout,
        )

    return run
