"""The built book in a real browser: headless Chromium, driven by Selenium, with no internet.

The site of the session's build (``built_html`` in ``conftest.py``) is served on
127.0.0.1 by a thread of this process. Chromium runs with every host name but
127.0.0.1 unresolvable, so a page that needs a CDN breaks here as it would
offline. Every page of the table of contents must load with no console error,
its mathematics typeset by MathJax and every image decoded; the search page
must find a chapter; previous/next must walk the table of contents; no display
equation may be wider than its column, on a laptop screen or on a phone.
Screenshots are written to ``_build/test-artifacts/``.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs
them). Without them the tests are skipped, unless ``NNBOOK_REQUIRE_BROWSER``
is set, as in CI, where a missing browser is a failure.
"""

import functools
import http.server
import json
import os
import shutil
import struct
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from book_pages import ROOT, chapters, toc_pages

ARTIFACTS = ROOT / "_build" / "test-artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,900", "--hide-scrollbars",
    # offline: every host name but the local server's fails to resolve
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
TIMEOUT = 30  # seconds for a page, its MathJax and its images
WINDOW = (1280, 900)  # the window size of CHROMIUM_FLAGS, restored after a test that changes it

pytestmark = pytest.mark.browser


def webdriver_module():
    """Selenium's webdriver, or a skip when the browser is missing (a failure under NNBOOK_REQUIRE_BROWSER)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if os.environ.get("NNBOOK_REQUIRE_BROWSER"):
        assert not missing, f"missing {missing}: apt-get install chromium chromium-driver"
        from selenium import webdriver
        return webdriver
    if missing:
        pytest.skip(f"no headless browser ({', '.join(missing)}); apt-get install chromium chromium-driver")
    return pytest.importorskip("selenium.webdriver")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(built_html):
    """The base URL of the built site, served on 127.0.0.1 by a background thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=built_html))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def chromium(user_data_dir, logs=("browser", "performance")):
    """A headless Debian Chromium driven by Selenium, offline, with the given logs recorded."""
    webdriver = webdriver_module()
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={user_data_dir}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", dict.fromkeys(logs, "ALL"))
    # An explicit driver path: Selenium Manager never runs, so nothing is downloaded.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(TIMEOUT)
    return driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.quit()


def wait_for(driver, condition, what, timeout=TIMEOUT):
    """Poll ``condition(driver)`` until it is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition(driver)
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what} on {driver.current_url}")


# Resolves when MathJax (if the page loads it) has typeset the page, and every image is decoded or failed.
SETTLE_PAGE = """
const done = arguments[arguments.length - 1];
const mathjax = window.MathJax && MathJax.startup && MathJax.startup.promise ? MathJax.startup.promise : Promise.resolve();
const images = Array.from(document.images).map(img => img.decode().catch(() => null));
Promise.all([mathjax, ...images]).then(() => done(true), error => done(String(error)));
"""

# The visible text of the page outside code, where raw TeX would show if MathJax had not run.
PROSE_TEXT = """
const body = document.querySelector('main') || document.body;
const copy = body.cloneNode(true);
copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(node => node.remove());
return copy.textContent;
"""


def load(driver, url):
    """Open ``url`` and let it settle; return what the page printed on the console and what it requested."""
    driver.get_log("browser"), driver.get_log("performance")  # forget the previous page
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete", "the page load")
    driver.set_script_timeout(TIMEOUT)
    settled = driver.execute_async_script(SETTLE_PAGE)
    assert settled is True, f"{url}: MathJax or an image failed: {settled}"
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    return driver.get_log("browser"), requests


def page_url(site, page):
    return site + page.with_suffix(".html").as_posix()


@pytest.mark.parametrize("page", toc_pages(), ids=lambda page: page.with_suffix("").as_posix())
def test_page_loads_offline_with_math_typeset_and_every_figure(browser, site, page):
    console, requests = load(browser, page_url(site, page))
    errors = [entry["message"] for entry in console if entry["level"] == "SEVERE"]
    assert not errors, f"{page}: console errors:\n" + "\n".join(errors)
    elsewhere = [url for url in requests if urlsplit(url).scheme in {"http", "https"} and urlsplit(url).hostname != "127.0.0.1"]
    assert not elsewhere, f"{page} requested files from other hosts: {elsewhere}"
    broken = browser.execute_script("return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 120))")
    assert not broken, f"{page}: images that did not load: {broken}"
    source = (ROOT / page).read_text(errors="replace")
    if "$" in source:
        typeset = browser.execute_script("return document.querySelectorAll('mjx-container').length")
        assert typeset > 0, f"{page}: no MathJax output"
        prose = browser.execute_script(PROSE_TEXT)
        for raw in ("$$", "\\frac", "\\begin{"):
            assert raw not in prose, f"{page}: raw TeX {raw!r} visible: MathJax did not typeset it"


def test_search_finds_a_chapter_by_a_term_of_its_text(browser, site):
    load(browser, site + "search.html?q=Novikoff")
    links = wait_for(browser, lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll('#search-results li a')).map(a => a.getAttribute('href'))"),
        "search results")
    assert any("book/perceptron.html" in href for href in links), f"the search for Novikoff found {links}"


def test_next_and_previous_walk_the_table_of_contents(browser, site):
    from selenium.webdriver.common.by import By

    expected = [page_url(site, page) for page in toc_pages()]
    browser.get(site)  # index.html redirects to the first page
    wait_for(browser, lambda d: d.current_url == expected[0], "the redirect of index.html to the first page")
    for direction, order in (("right-next", expected), ("left-prev", expected[::-1])):
        for current, following in zip(order, order[1:]):
            assert browser.current_url == current
            browser.find_element(By.CSS_SELECTOR, f"a.{direction}").click()
            wait_for(browser, lambda d, url=following: d.current_url == url, f"{direction} to {following}")
        assert not browser.find_elements(By.CSS_SELECTOR, f"a.{direction}"), f"{order[-1]} should have no {direction}"


def test_self_check_answers_are_hidden_until_clicked(browser, site):
    from selenium.webdriver.common.by import By

    load(browser, page_url(site, Path("book/logistic.md")))
    solution = browser.find_element(By.CSS_SELECTOR, ".solution.dropdown")
    answer = solution.find_element(By.CSS_SELECTOR, "#solution-content")
    assert not answer.is_displayed(), "the answer of a self-check question is visible before a click"
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", solution)
    solution.find_element(By.CSS_SELECTOR, ".admonition-title").click()
    wait_for(browser, lambda d: answer.is_displayed(), "the answer to open")


def png_size(path):
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def screenshot(browser, name, full_page=True):
    """Save a PNG of the page (all of it, up to 16,000 px, with ``full_page``) in the artifacts folder."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if full_page:
        import base64

        metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
        width, height = metrics["cssContentSize"]["width"], min(metrics["cssContentSize"]["height"], 16000)
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
    else:
        browser.save_screenshot(str(path))
    return path


def test_screenshots_of_the_book_are_saved_as_artifacts(browser, site):
    from selenium.webdriver.common.by import By

    shots = []
    for page in (Path("book/logistic.md"), Path("book/mlp.md"), Path("book/exercises.md")):
        load(browser, page_url(site, page))
        shots.append(screenshot(browser, "page-" + page.stem))
    # the header of a chapter with its launch menu open: Binder and Colab (JupyterHub when _config.yml names a hub)
    load(browser, page_url(site, chapters()[-1]))
    browser.find_element(By.CSS_SELECTOR, 'button[aria-label="Launch interactive content"]').click()
    wait_for(browser, lambda d: d.find_element(By.PARTIAL_LINK_TEXT, "Colab").is_displayed(), "the launch menu")
    shots.append(screenshot(browser, "launch-buttons", full_page=False))
    for path in shots:
        width, height = png_size(path)
        assert path.stat().st_size > 20_000 and width >= 1000 and height >= 600, f"{path.name}: {width}x{height}"
    assert png_size(shots[0])[1] > 3000, "the chapter's screenshot should hold the whole page"


# A laptop screen and a phone (CSS pixels).
VIEWPORTS = {"laptop-1366x768": (1366, 768), "phone-390x844": (390, 844)}

# Every display equation with its width and the width of its column. nnbook_book.py shrinks an
# equation wider than its column, down to 60 % (a phone), and marks it data-nnbook-shrunk.
DISPLAY_EQUATIONS = """
return Array.from(document.querySelectorAll('mjx-container[display="true"]')).map(m => ({
  needed: m.scrollWidth, room: m.clientWidth, shrunk: m.dataset.nnbookShrunk || null,
  tex: (m.querySelector('mjx-assistive-mml') || m).textContent.slice(0, 100)}));
"""


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("page", chapters(), ids=lambda page: page.stem)
def test_no_display_equation_is_wider_than_its_column(browser, site, page, viewport):
    """scrollWidth <= clientWidth + 1 for every display equation: nothing is cut or needs a scroll bar.

    At 1366 px every equation fits at its normal size; on a phone, a wide one may be shrunk (not
    below 60 %), and one that would need more must be broken into lines in the chapter's source.
    """
    width, height = VIEWPORTS[viewport]
    browser.set_window_size(width, height)
    try:
        load(browser, page_url(site, page))
        assert browser.execute_script("return window.innerWidth") == width
        equations = browser.execute_script(DISPLAY_EQUATIONS)
        too_wide = [f"{e['needed']} px in {e['room']} px: {e['tex']}" for e in equations if e["needed"] > e["room"] + 1]
        assert not too_wide, f"{page} at {viewport}: equations wider than their column:\n" + "\n".join(too_wide)
        if width >= 1366:
            shrunk = [f"shrunk to {e['shrunk']}: {e['tex']}" for e in equations if e["shrunk"]]
            assert not shrunk, f"{page} at {viewport}: break these equations into lines:\n" + "\n".join(shrunk)
    finally:
        browser.set_window_size(*WINDOW)
