"""Tests of nnbook/versioning.py: a chapter run against another nnbook version warns, the same version is silent."""

import warnings

import pytest

import nnbook
from nnbook.versioning import VersionMismatchWarning, check_version


def test_the_version_the_book_was_built_with_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_version(nnbook.__version__) is None


def test_another_installed_version_warns_and_says_both_versions():
    with pytest.warns(VersionMismatchWarning, match=r"built with nnbook 0\.1\.0, but nnbook 0\.2\.0 is installed"):
        check_version("0.1.0", installed="0.2.0")


def test_the_warning_points_at_the_chapter_cell_that_called_it():
    with pytest.warns(VersionMismatchWarning) as record:
        check_version("0.0.1")
    assert record[0].filename == __file__
