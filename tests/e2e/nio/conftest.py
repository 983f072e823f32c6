"""pytest configuration for the matrix-nio end-to-end tests: they need a running server."""

import os

import pytest


def pytest_configure(config):
    if not os.environ.get("AXON_E2E_BASE_URL") or not os.environ.get("AXON_E2E_STATE"):
        pytest.exit("AXON_E2E_BASE_URL and AXON_E2E_STATE are not set: run tests/e2e/nio.sh", returncode=2)
