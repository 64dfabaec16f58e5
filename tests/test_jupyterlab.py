"""The playground in a real JupyterLab: a notebook run from the Run menu in headless Chromium, a control moved by the browser.

A Jupyter server with JupyterLab is started on 127.0.0.1 in a temporary folder
(``formgrader`` of ``nbgrader_course.py``: the repository's one way of starting
a server in the tests, which also serves JupyterLab), with JupyterLab's news and
update checks off and Chromium offline (``test_browser.chromium``). The
notebook builds a :class:`nnbook.widgets.Playground` and prints its state. The
test runs all cells from the Run menu, waits for the widget's image, picks
another activation in the widget's dropdown, waits for the image to change,
runs the printing cell again, and checks that the kernel saw the new setting
and redrew, with no error in any output.

Needs Debian's ``chromium`` and ``chromium-driver``: without them the test is
skipped, unless ``NNBOOK_REQUIRE_BROWSER`` is set (as in ``test_browser.py``).
"""

import json

import nbformat
import pytest
from nbgrader_course import formgrader
from test_browser import chromium, wait_for

pytestmark = pytest.mark.browser

TIMEOUT = 90  # seconds: JupyterLab's first load, a kernel start and the playground's first training

NOTEBOOK_CELLS = [
    'from nnbook.widgets import Playground\n\np = Playground(dataset="XOR", hidden_layers=(4,), activation="tanh", '
    'lr=0.3, epochs=30, m=80, frames=2)\np',
    'print(f"state: {p.value(\'activation\')} | {p.figure.get_suptitle()}")',
]

# JupyterLab settings for an offline test: no news, no update check, no extension manager.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                       "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}

IMAGE_SRC = "const img = document.querySelector('img.widget-image'); return img && img.src ? img.src : null;"

# The text of every output of the notebook, and the MIME types of the outputs that are errors or stderr.
OUTPUTS = """
const texts = Array.from(document.querySelectorAll('.jp-OutputArea-output')).map(node => node.innerText);
const errors = Array.from(document.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output.jp-mod-error'
)).map(node => node.innerText);
return [texts, errors];
"""


def server_url(request):
    """The base URL and token of the server behind ``formgrader``'s ``request``."""
    return request.url, request.token


def click_menu(driver, menu, command):
    """Open the top menu ``menu`` and click the item that runs ``command``."""
    from selenium.webdriver.common.by import By

    items = driver.find_elements(By.CSS_SELECTOR, "#jp-menu-panel .lm-MenuBar-item, .lm-MenuBar-item")
    next(item for item in items if item.text.strip() == menu).click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'.lm-Menu-item[data-command="{command}"]'),
             f"the item {command} of the {menu} menu")[0].click()


def kernel_idle(driver):
    from selenium.webdriver.common.by import By

    status = driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator")
    return status and status[0].get_attribute("data-status") == "idle"


def test_playground_runs_in_jupyterlab_and_redraws_when_a_control_moves(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver = chromium(tmp_path / "chromium", logs=("browser",))  # skips (or fails) here without a browser
    course = tmp_path / "lab"
    settings = course / ".jupyter-test" / "config" / "lab" / "user-settings"  # formgrader's JUPYTER_CONFIG_DIR
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, course / "playground.ipynb")
    try:
        with formgrader(course) as request:
            base, token = server_url(request)
            driver.set_page_load_timeout(TIMEOUT)
            driver.get(f"{base}/lab/tree/playground.ipynb?token={token}")
            wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), "the notebook",
                     TIMEOUT)
            wait_for(driver, kernel_idle, "the kernel to start", TIMEOUT)

            click_menu(driver, "Run", "runmenu:run-all")
            first = wait_for(driver, lambda d: d.execute_script(IMAGE_SRC), "the playground's image", TIMEOUT)
            state = wait_for(driver, lambda d: [text for text in d.execute_script(OUTPUTS)[0] if "state: tanh" in text],
                             "the printed state", TIMEOUT)
            assert "XOR: 2 → 4 tanh → 2" in state[0], state
            wait_for(driver, kernel_idle, "the cells to run", TIMEOUT)
            texts, errors = driver.execute_script(OUTPUTS)
            assert not errors, f"error output: {errors}"

            dropdown = next(element for element in driver.find_elements(By.CSS_SELECTOR, ".widget-dropdown")
                            if element.find_element(By.TAG_NAME, "label").text.strip() == "activation")
            Select(dropdown.find_element(By.TAG_NAME, "select")).select_by_visible_text("relu")
            wait_for(driver, lambda d: d.execute_script(IMAGE_SRC) not in (None, first), "a new image", TIMEOUT)
            wait_for(driver, kernel_idle, "the redraw to finish", TIMEOUT)

            cells = driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")
            cells[1].find_element(By.CSS_SELECTOR, ".jp-InputPrompt").click()
            cells[1].send_keys(Keys.SHIFT, Keys.ENTER)
            state = wait_for(driver, lambda d: [text for text in d.execute_script(OUTPUTS)[0] if "state: relu" in text],
                             "the printed state after the change", TIMEOUT)
            assert "XOR: 2 → 4 relu → 2" in state[0] and "epoch 30" in state[0], state
            texts, errors = driver.execute_script(OUTPUTS)
            assert not errors, f"error output: {errors}"
            assert len(driver.find_elements(By.CSS_SELECTOR, "img.widget-image")) == 1
    finally:
        driver.quit()
