"""The book and the library must match: each chapter says which ``nnbook`` it was built with.

The first cell of every chapter notebook calls :func:`check_version` with the
version of ``nnbook`` that the book was built with (and every page of the HTML
book prints it in its footer). If the reader runs the notebook against another
installed version, the cell warns, so a figure or a number that differs from
the book never comes as a silent surprise.
"""

import warnings

from . import __version__


class VersionMismatchWarning(UserWarning):
    """The installed ``nnbook`` is not the version a chapter was built with."""


def check_version(built_with, installed=__version__):
    """Warn (:class:`VersionMismatchWarning`) unless ``installed`` equals ``built_with``.

    ``built_with`` is the version string the chapter states, ``installed``
    defaults to ``nnbook.__version__``. Returns nothing, so a notebook cell that
    ends with the call prints nothing when the versions match.
    """
    if str(built_with) == str(installed):
        return
    warnings.warn(
        f"this chapter was built with nnbook {built_with}, but nnbook {installed} is installed: code, "
        f"numbers and figures may differ from the book. Install nnbook {built_with} (the book's repository "
        f"at that version: pip install -e . from its root), or read the edition built with nnbook {installed}.",
        VersionMismatchWarning,
        stacklevel=2,
    )
