"""Tests of benchmarks/bench_book_build.py that need no build: reading myst-nb's log, editing a chapter, the report.

The benchmark itself builds the book four times (minutes); its results are in
benchmarks/README.md. Times are measured there, never asserted.
"""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_book_build.py"


def load_script():
    spec = importlib.util.spec_from_file_location("bench_book_build", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_log_tells_executed_from_cached_notebooks(tmp_path):
    bench = load_script()
    log = (f"{tmp_path}/book/adaline.md: Executing notebook using local CWD [mystnb]\n"
           "[IPKernelApp] WARNING | Kernel is running over TCP\n"
           f"{tmp_path}/book/adaline.md: Executed notebook in 5.48 seconds [mystnb]\n"
           f"{tmp_path}/book/intro.md: Using cached notebook: ID=4 [mystnb]\n"
           f"{tmp_path}/book/mlp.md: Using cached notebook: ID=6 [mystnb]\n")
    assert bench.notebooks(bench.EXECUTED, log, tmp_path) == ["book/adaline.md"]
    assert bench.notebooks(bench.CACHED, log, tmp_path) == ["book/intro.md", "book/mlp.md"]


def test_the_edits_touch_text_then_one_code_cell(tmp_path):
    bench = load_script()
    chapter = tmp_path / "chapter.md"
    chapter.write_text("# T\n\n```{code-cell} ipython3\nx = 1\n```\n\ntext\n\n"
                       "```{code-cell} ipython3\n:tags: [hide-input]\n\ny = 2\n```\n")
    bench.edit_text(chapter)
    assert chapter.read_text().endswith("added by the build benchmark.\n")
    bench.edit_code(chapter)
    text = chapter.read_text()
    assert "```{code-cell} ipython3\nx = 1\n```" in text
    assert "```{code-cell} ipython3\n:tags: [hide-input]\n\ny = 2\n# a line added by the build benchmark\n```" in text


def test_the_report_is_a_markdown_table():
    bench = load_script()
    results = [("clean", 41.0, ["book/a.md", "book/b.md"], []), ("no change", 3.2, [], [])]
    text = bench.report(results, "book/a.md")
    assert "| clean | 41.0 | 2: `a`, `b` | 0 |" in text
    assert "| no change | 3.2 | 0: none | 0 |" in text
