"""Optional dependencies of the tests: PyTorch, for the cross-checks against ``torch.autograd``.

Without torch those tests are skipped, so that ``pytest`` runs on a machine
without it. CI sets ``NNBOOK_REQUIRE_TORCH=1`` (``.ci/run``): there a missing
torch is a failure, not a silent skip.
"""

import importlib
import os

import pytest


def import_torch():
    """``torch``, or a skip (a failure when ``NNBOOK_REQUIRE_TORCH`` is set)."""
    if os.environ.get("NNBOOK_REQUIRE_TORCH"):
        return importlib.import_module("torch")
    return pytest.importorskip("torch")


def require_sandbox():
    """Skip unless the autograder's sandbox (bubblewrap) can run here; with ``NNBOOK_REQUIRE_SANDBOX=1``, fail."""
    from nnbook.autograder import sandbox

    problem = sandbox.isolation_problem()
    if problem and os.environ.get("NNBOOK_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"NNBOOK_REQUIRE_SANDBOX=1 but the sandbox cannot run: {problem}")
    if problem:
        pytest.skip(f"graded sandboxed only: {problem}")
