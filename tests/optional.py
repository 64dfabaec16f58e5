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
