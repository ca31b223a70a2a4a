"""Waiting, bounded, for something another process does."""

import time

import pytest


def wait_until(check, what, timeout=90, interval=0.05):
    """`check()`'s first true answer; a failure naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")
