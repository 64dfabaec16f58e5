"""Benchmark: how long the book takes to build, from scratch and from the execution cache.

The book's sources (``_config.yml``, ``_toc.yml``, ``book/``, ``exercises/``
and ``src/``, which chapters include code from) are copied to a temporary
folder, so the repository is never touched, and built there with the README's
command, ``jupyter-book build -W --keep-going``, four times:

1. **clean**: no ``_build/``; every chapter notebook is executed;
2. **no change**: the same build again; Sphinx reads nothing, nothing runs;
3. **text edit**: a sentence added to one chapter's Markdown; Sphinx reads that
   chapter again, but its code is unchanged, so its outputs come from the cache;
4. **code edit**: a comment added to one of that chapter's code cells; that chapter,
   and only that one, is executed again.

For each build the report gives the wall-clock time and which notebooks were
executed, from myst-nb's log lines (``Executing notebook`` against ``Using
cached notebook``). Run ``python benchmarks/bench_book_build.py`` (a few
minutes, mostly the clean build); ``--chapter book/logistic.md`` picks the
edited chapter; ``--output report.md`` also writes the report.
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("_config.yml", "_toc.yml", "book", "exercises", "src")

# myst-nb logs one of these per notebook it renders (the path is absolute, the suffix is .md or .ipynb)
EXECUTED = re.compile(r"^(\S+\.(?:md|ipynb)): Executing notebook", re.M)
CACHED = re.compile(r"^(\S+\.(?:md|ipynb)): Using cached notebook", re.M)


def notebooks(pattern, log, root):
    """The notebooks that ``pattern`` finds in a build log, relative to the copied book's ``root``, sorted."""
    return sorted(Path(path).resolve().relative_to(root).as_posix() for path in pattern.findall(log))


def copy_sources(destination):
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)


def build(root):
    """Build the book in ``root``; returns (seconds, executed notebooks, cached notebooks)."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    start = time.perf_counter()
    done = subprocess.run([str(jupyter_book), "build", "-W", "--keep-going", str(root)],
                          capture_output=True, text=True, cwd=root)
    seconds = time.perf_counter() - start
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"the build failed:\n{log[-4000:]}")
    return seconds, notebooks(EXECUTED, log, root), notebooks(CACHED, log, root)


def edit_text(path):
    """Add a sentence at the end of the chapter's Markdown (no code changes)."""
    path.write_text(path.read_text() + "\nThis sentence was added by the build benchmark.\n")


def edit_code(path):
    """Add a comment line at the end of the chapter's last code cell (after its options and its code)."""
    text = path.read_text()
    end = text.index("\n```", text.rindex("```{code-cell}"))
    path.write_text(text[:end] + "\n# a line added by the build benchmark" + text[end:])


def run(chapter):
    with tempfile.TemporaryDirectory(prefix="nnbook-build-") as folder:
        root = Path(folder).resolve()
        copy_sources(root)
        results = [("clean", *build(root))]
        results.append(("no change", *build(root)))
        edit_text(root / chapter)
        results.append((f"text edit in {chapter}", *build(root)))
        edit_code(root / chapter)
        results.append((f"code edit in {chapter}", *build(root)))
    return results


def report(results, chapter):
    lines = [
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- machine: {platform.platform()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}",
        f"- edited chapter: `{chapter}`",
        "",
        "| build | time (s) | notebooks executed | notebooks from the cache |",
        "|---|---|---|---|",
    ]
    for name, seconds, executed, cached in results:
        shown = ", ".join(f"`{Path(path).stem}`" for path in executed) if executed else "none"
        lines.append(f"| {name} | {seconds:.1f} | {len(executed)}: {shown} | {len(cached)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", default="book/logistic.md", help="the chapter to edit (a MyST notebook)")
    parser.add_argument("--output", help="also write the report (Markdown) to this file")
    args = parser.parse_args(argv)
    if "```{code-cell}" not in (ROOT / args.chapter).read_text():
        parser.error(f"{args.chapter} has no code cell to edit")
    text = report(run(args.chapter), args.chapter)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
