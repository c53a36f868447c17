"""Shared fixtures for the end-to-end tests: where the built binaries are."""
import os
import pathlib

import pytest

SRC = pathlib.Path(os.environ.get("SLUICE_SRC", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("SLUICE_BUILD", SRC / "build"))


@pytest.fixture(scope="session")
def sluicectl():
    path = BUILD / "sluicectl"
    if not path.exists():
        pytest.fail(f"{path} not built; build first or set SLUICE_BUILD")
    return str(path)
