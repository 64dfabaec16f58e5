"""The book builds from a clean state and the built site is whole, self-contained and clean.

The build is the README's first command (``jupyter-book build -W --keep-going``),
run once per session into a temporary folder (the ``built_book`` fixture of
``conftest.py``). These tests read the HTML files; ``test_browser.py`` opens
the same pages in headless Chromium.
"""

import html.parser
import re
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml

import nnbook
from book_pages import ROOT, chapters, exercise_notebooks, toc_pages
from nbgrader_course import secret_lines
from nnbook.widgets import LIVE_NOTE

pytestmark = pytest.mark.book

# jupyter_client's own notice when a kernel listens on localhost TCP; not a problem in the book.
HARMLESS = re.compile(r"\[IPKernelApp\] WARNING \| Kernel is running over TCP")

# The region markers of solution cells, and nbgrader's cell metadata (`"nbgrader": {"grade": ...}`);
# the bare word "nbgrader" is fine: the chapters talk about it.
NBGRADER_MARKERS = re.compile(r'BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS|"nbgrader":\s*\{')
CELL_METADATA_MARKER = re.compile(r'"nbgrader":\s*\{')
# The instructors' guide tells how to write an exercise: it names the markers, and holds no solution.
NAMES_THE_MARKERS = {"guide_instructors.html", "guide_instructors.md", "guide_autograding.html", "guide_autograding.md"}  # they explain them

VERSION_STAMP = f"Built with <code>nnbook</code> {nnbook.__version__}."


class PageParser(html.parser.HTMLParser):
    """Collects what an HTML page loads (scripts, styles, images…), links to, and the ids it defines."""

    def __init__(self):
        super().__init__()
        self.loads, self.links, self.ids, self.styles = [], [], set(), []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id", "name"):
            if attrs.get(name):
                self.ids.add(attrs[name])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "link" and attrs.get("href"):
            self.loads.append((tag, attrs["href"]))
        elif tag in {"script", "img", "iframe", "source", "video", "audio", "embed"} and attrs.get("src"):
            self.loads.append((tag, attrs["src"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def parse(path):
    return parse_text(path.read_text(errors="replace"))


def parse_text(text):
    parser = PageParser()
    parser.feed(text)
    return parser


def html_pages(html):
    """The pages of the site (the theme's Jinja templates copied into _static/ are not pages)."""
    return sorted(page for page in html.rglob("*.html") if "_static" not in page.relative_to(html).parts)


def is_remote(url):
    """A URL on another host (``https://…``, ``//host/…``); data:, blob: and relative URLs are local."""
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme in {"http", "https", "ftp"}


# CSS that fetches something: @import "x", @import url(x), url(x) (fonts, images).
CSS_URLS = re.compile(r"""@import\s+(?:url\()?\s*["']?([^"')\s;]+)|url\(\s*["']?([^"')\s]+)""")


def css_remote_urls(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # comments load nothing
    return [url for match in CSS_URLS.finditer(text) for url in match.groups() if url and is_remote(url)]


def test_build_succeeds_without_warnings(built_book):
    result, html = built_book
    log = result.stdout + result.stderr
    warnings = [
        line
        for line in log.splitlines()
        if re.search(r"WARNING|ERROR|CellExecutionError", line) and not HARMLESS.search(line)
    ]
    assert result.returncode == 0, f"jupyter-book build failed:\n{log[-6000:]}"
    assert not warnings, "the build printed warnings:\n" + "\n".join(warnings)
    assert (html / "index.html").exists()


def test_every_toc_page_is_built_and_every_chapter_cell_executed(built_html):
    for page in toc_pages():
        assert (built_html / page.with_suffix(".html")).exists(), f"{page} listed in _toc.yml but not built"
    for page in chapters():
        notebook = built_html.parent / "jupyter_execute" / page.with_suffix(".ipynb")
        nb = nbformat.read(notebook, as_version=4) if notebook.exists() else None
        code_cells = [c for c in nb.cells if c.cell_type == "code"] if nb else []
        assert code_cells, f"{page}: no executed notebook found in the build"
        assert all(c.execution_count for c in code_cells if c.source.strip()), f"{page}: a code cell was not run"
        assert not any(o.output_type == "error" for c in code_cells for o in c.get("outputs", []))


def test_graded_exercises_are_listed_as_student_versions_never_run(built_html):
    notebooks = exercise_notebooks()
    assert notebooks, "expected student notebooks in exercises/"
    listing = (built_html / "book" / "exercises.html").read_text()
    assert set(toc_pages()) >= set(notebooks), "every student notebook must have its page in the book"
    for notebook in notebooks:
        page = (built_html / notebook.with_suffix(".html")).read_text()
        assert 'class="cell_output' not in page, f"{notebook}: the exercise page shows outputs, it was run"
        assert "NotImplementedError" in page, f"{notebook}: the stubs of the student version are missing"
        # the page's download button and the listing's link both offer the student's file, byte for byte
        source_copy = built_html / "_sources" / notebook
        assert source_copy.read_bytes() == (ROOT / notebook).read_bytes()
        links = parse(built_html / "book" / "exercises.html").links
        targets = [href for href in links if href.endswith(f"/{notebook.name}") and "_downloads/" in href]
        assert targets, f"book/exercises.html has no download link to {notebook.name}"
        downloaded = (built_html / "book" / unquote(targets[0])).resolve()
        assert downloaded.read_bytes() == (ROOT / notebook).read_bytes()
        assert f'href="../{notebook.with_suffix(".html").as_posix()}"' in listing


def hidden_test_lines():
    """Distinctive lines (30 characters or more) of every solution and hidden-test region of solutions/."""
    notebooks = (nbformat.read(path, as_version=4) for path in (ROOT / "solutions").rglob("*.ipynb"))
    return set().union(*(secret_lines(notebook, min_length=30) for notebook in notebooks))


def published_lines():
    """Every line of the student versions: a line that nbgrader released to students is no secret."""
    return {line.strip() for path in exercise_notebooks()
            for cell in nbformat.read(ROOT / path, as_version=4).cells for line in cell.source.splitlines()}


def test_no_grading_material_in_the_built_book(built_html):
    hidden = hidden_test_lines()
    assert hidden, "expected hidden tests in solutions/; did the layout change?"
    hidden -= published_lines()
    # The student notebooks are offered for download unchanged: their cells keep nbgrader's metadata
    # (autograde needs it), and that is all they may contain of it.
    student_versions = {(ROOT / notebook).read_bytes() for notebook in exercise_notebooks()}
    for path in built_html.rglob("*"):
        if path.suffix not in {".html", ".ipynb", ".md", ".txt", ".js", ".json", ".py"} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        allowed = CELL_METADATA_MARKER if path.read_bytes() in student_versions else None
        found = [m.group() for m in NBGRADER_MARKERS.finditer(text) if not (allowed and allowed.fullmatch(m.group()))]
        assert not found or path.name in NAMES_THE_MARKERS, f"nbgrader marker {found[0]!r} found in {path.relative_to(built_html)}"
        for line in hidden:
            assert line not in text, f"solution or hidden test code found in {path.relative_to(built_html)}: {line!r}"


def test_no_page_loads_anything_from_another_host(built_html):
    """Readable offline: no script, style, font or image from a CDN (links to Binder or Colab are fine)."""
    remote = []
    for page in html_pages(built_html):
        parsed = parse(page)
        remote += [f"{page.relative_to(built_html)}: <{tag}> {url}" for tag, url in parsed.loads if is_remote(url)]
        remote += [f"{page.relative_to(built_html)}: <style> {url}" for s in parsed.styles for url in css_remote_urls(s)]
    for css in built_html.rglob("*.css"):
        remote += [f"{css.relative_to(built_html)}: {url}" for url in css_remote_urls(css.read_text(errors="replace"))]
    assert not remote, "the site loads files from other hosts:\n" + "\n".join(remote)


def test_mathjax_and_the_widget_libraries_are_served_by_the_site(built_html):
    mathjax, widget_pages = set(), []
    for page in html_pages(built_html):
        scripts = [url for tag, url in parse(page).loads if tag == "script"]
        mathjax.update(url for url in scripts if "mathjax" in url.lower())
        if "application/vnd.jupyter.widget-state+json" in page.read_text():
            widget_pages.append(page)
            names = [urlsplit(url).path.rsplit("/", 1)[-1] for url in scripts]
            assert "require.js" in names and "embed-amd.js" in names, f"{page}: widget state but no widget manager"
    assert {urlsplit(url).path.rsplit("/", 1)[-1] for url in mathjax} == {"tex-chtml.js"}
    assert (built_html / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert (built_html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    assert widget_pages, "expected the chapters with explorers to save their widget state"
    vendor = built_html / "_static" / "vendor"
    assert (vendor / "require-2.3.7" / "require.js").exists()
    assert (vendor / "html-manager-1.0.15" / "embed-amd.js").exists()
    assert list((vendor / "html-manager-1.0.15").glob("*.woff2")), "the widget manager's fonts are missing"


def resolve_link(page, href):
    """The file and fragment a relative link of ``page`` points at (None for links that leave the site)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
        return None
    target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def test_every_internal_link_and_reference_resolves(built_html):
    ids, broken = {}, []
    pages = html_pages(built_html)
    for page in pages:
        ids[page.resolve()] = parse(page).ids
    for page in pages:
        parsed = parse(page)
        for href in parsed.links + [url for _, url in parsed.loads]:
            resolved = resolve_link(page, href)
            if resolved is None:
                continue
            target, fragment = resolved
            where = f"{page.relative_to(built_html)}: {href}"
            if not target.exists():
                broken.append(f"{where} (no such file)")
            elif fragment and target.suffix == ".html" and fragment not in ids.get(target, set()):
                broken.append(f"{where} (no id {fragment!r} in {target.name})")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_every_page_states_the_nnbook_version_it_was_built_with(built_html):
    for page in toc_pages():
        assert VERSION_STAMP in (built_html / page.with_suffix(".html")).read_text(), f"{page}: no version stamp"


# Host names that stand for "some hub", never a real one.
PLACEHOLDER_HOSTS = re.compile(r"(^|\.)(example\.(org|com|net)|localhost|your[-_.\w]*)$")


def configured_hub():
    """The JupyterHub of _config.yml's launch buttons, or "" when none is configured."""
    launch = yaml.safe_load((ROOT / "_config.yml").read_text()).get("launch_buttons", {})
    return (launch.get("jupyterhub_url") or "").strip()


def test_the_jupyterhub_button_names_a_real_hub_or_is_not_configured():
    hub = configured_hub()
    assert not hub or not PLACEHOLDER_HOSTS.search(urlsplit(hub).hostname or ""), (
        f"_config.yml: jupyterhub_url {hub!r} is a placeholder; remove it, or name your institution's hub")


def test_launch_buttons_and_download_reach_a_real_notebook(built_html):
    """Binder and Colab (and JupyterHub, if configured) open an .ipynb of the repository; the download button offers the executed notebook."""
    hub = configured_hub()
    for page in chapters() + exercise_notebooks():
        text = (built_html / page.with_suffix(".html")).read_text()
        notebook = page.with_suffix(".ipynb").as_posix()
        assert (ROOT / notebook).exists()
        colab = re.search(r'href="(https://colab\.research\.google\.com/github/[^"]+)"', text)
        assert colab and colab.group(1).endswith(f"/blob/main/{notebook}"), f"{page}: Colab must open {notebook}"
        assert f"urlpath=lab/tree/{notebook}" in text, f"{page}: no Binder link to {notebook}"
        if hub:
            assert f'href="{hub.rstrip("/")}/hub/user-redirect/git-pull?' in text, f"{page}: no link to {hub}"
        else:
            assert "/hub/user-redirect/" not in text and "logo_jupyterhub" not in text, (
                f"{page}: a JupyterHub button, but _config.yml names no hub")
        download = built_html / "_sources" / notebook
        assert download.exists() and f"_sources/{notebook}" in text, f"{page}: no .ipynb download"
        nbformat.validate(nbformat.read(download, as_version=4))
    executed = nbformat.read(built_html / "_sources" / chapters()[-1].with_suffix(".ipynb"), as_version=4)
    assert any(cell.get("outputs") for cell in executed.cells if cell.cell_type == "code")


def test_explorers_show_a_still_image_with_a_note_on_running_them_live(built_html):
    explorers = 0
    for page in chapters():
        text = (built_html / page.with_suffix(".html")).read_text()
        figures = re.findall(r'<figure class="nnbook-explorer">(.*?)</figure>', text, flags=re.S)
        for figure in figures:
            assert '<img src="data:image/png;base64,' in figure
            assert LIVE_NOTE in figure
        explorers += len(figures)
        assert "application/vnd.jupyter.widget-view+json" not in text, f"{page}: a dead widget view in the HTML"
    assert explorers >= 4, "expected the four explorers of nnbook.widgets in the chapters"


# A number and nothing else: what a cell ending with `check_gradient(...)` shows, or `print(error)`.
BARE_NUMBER = re.compile(r"^\s*[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?\s*$")


def test_no_cell_output_is_a_bare_number(built_html):
    """Every number a chapter prints says what it is ("relative error …: 2.5e-10"), or is asserted instead."""
    for page in chapters():
        notebook = nbformat.read(built_html.parent / "jupyter_execute" / page.with_suffix(".ipynb"), as_version=4)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                text = output.get("text") if output.output_type == "stream" else output.get("data", {}).get("text/plain")
                bare = [line for line in (text or "").splitlines() if BARE_NUMBER.match(line)]
                assert not bare, f"{page}: a cell prints the bare number {bare[0]!r}:\n{cell.source}"


def test_the_notation_page_shows_the_batch_formula_in_code_not_escaped_tex(built_html):
    text = (built_html / "book" / "notation.html").read_text()
    assert "A\\_prev" not in text, "notation.html shows \\texttt{A\\_prev}, which MathJax renders with its backslash"
    assert '<span class="pre">A_prev</span>' in text


def self_check_titles(page_html):
    """The numbered titles of the self-check questions (sphinx-exercise's exercise nodes) of a page, in order."""
    return re.findall(r'<div class="exercise admonition" id="[^"]+">\s*<p class="admonition-title">'
                      r'<span class="caption-number">([^<]*)</span>', page_html)


def test_self_checks_are_numbered_per_chapter_and_never_called_exercises(built_html):
    """"Self-check 4.2" is the second question of chapter 4; "Exercise 1/2/3" are the graded notebooks only."""
    numbers = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["nnbook_chapter_numbers"]
    counts, seen = {}, 0
    for page in toc_pages():
        if page.suffix != ".md":
            continue
        text = (built_html / page.with_suffix(".html")).read_text()
        titles = self_check_titles(text)
        assert text.count('class="exercise admonition"') == len(titles), f"{page}: a self-check without a number"
        for title in titles:
            chapter = numbers[page.with_suffix("").as_posix()]
            counts[chapter] = counts.get(chapter, 0) + 1
            assert title.strip() == f"Self-check {chapter}.{counts[chapter]}", f"{page}: {title!r}"
        seen += len(titles)
        assert not re.search(r'class="(admonition-title|caption-number)">\s*(<[^>]+>\s*)*Exercise \d', text), (
            f"{page}: a self-check titled like a graded exercise")
        answers = re.findall(r'<div class="solution dropdown admonition"[^>]*>\s*<p class="admonition-title">([^<]*)</p>', text)
        assert all(answer.strip() == "Solution" for answer in answers), f"{page}: {answers}"
    assert seen >= 30, "expected the self-check questions of every chapter"


def next_page(page_html):
    found = re.search(r'<a class="right-next"\s+href="([^"]+)"', page_html)
    return found and found.group(1)


def test_next_leads_from_the_student_guide_to_the_chapters_and_from_the_exercises_to_the_instructors(built_html):
    students = (built_html / "book" / "guide_students.html").read_text()
    assert next_page(students) == "perceptron.html", "after the student guide comes the first chapter"
    last_exercise = exercise_notebooks()[-1]
    following = next_page((built_html / last_exercise.with_suffix(".html")).read_text())
    assert following and following.endswith("book/guide_instructors.html"), f"after {last_exercise}: {following}"


def test_the_introduction_links_every_chapter_of_the_book(built_html):
    text = (built_html / "book" / "intro.html").read_text()
    covers = text[text.index('id="what-the-book-covers"'):text.index('id="prerequisites"')]
    links = {href.split("#")[0] for href in parse_text(covers).links}
    missing = [page for page in chapters() if page.stem != "intro" and f"{page.stem}.html" not in links]
    assert not missing, f"the introduction's list of chapters does not link {missing}"
