"""The pages of the book, read from _toc.yml: shared by the tests of the built site and of the chapters' sources."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def source_of(docname):
    """The source file of a page: the MyST ``.md`` of a chapter (never its paired ``.ipynb``), or a notebook."""
    for suffix in (".md", ".ipynb"):
        if (ROOT / f"{docname}{suffix}").exists():
            return Path(f"{docname}{suffix}")
    raise FileNotFoundError(f"{docname} is in _toc.yml but has no .md or .ipynb source")


def toc_pages():
    """Every page of _toc.yml, in reading order, as source paths relative to the root; globs expanded."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [source_of(toc["root"])]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                pages.append(source_of(entry["file"]))
            else:
                found = sorted(ROOT.glob(entry["glob"] + ".*"))
                pages.extend(p.relative_to(ROOT) for p in found if p.suffix in {".md", ".ipynb"})
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part["chapters"])
    return pages


def chapters():
    """The pages that are notebooks executed at build time (MyST Markdown with code cells)."""
    return [page for page in toc_pages() if page.suffix == ".md" and "```{code-cell}" in (ROOT / page).read_text()]


def exercise_notebooks():
    """The student notebooks of exercises/, relative to the root."""
    return sorted(p.relative_to(ROOT) for p in ROOT.glob("exercises/*/*.ipynb"))
