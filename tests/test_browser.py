"""The course in JupyterLab, driven by a real headless Chromium: the widgets a reader touches.

Notebook 2's spectrogram explorer must redraw when a slider moves, and notebook 8's upload
widget must predict the emotion of an uploaded wav. Each test opens a trimmed copy of the
real notebook (only the cells its widget needs, taken verbatim) in a JupyterLab started on a
free port with a clean configuration, on a tiny synthetic course made here, and saves
screenshots to ``test-artifacts/browser/``. Select them with ``-k browser``; they skip when
Chromium, its driver or selenium is missing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest
import soundfile as sf

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the dev extra is not installed
    pytest.skip("the browser test needs selenium (pip install -e '.[dev]') and Chromium: "
                "apt-get install chromium chromium-driver", allow_module_level=True)

# Debian's packages; never selenium-manager, which would download a browser and a driver.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("the browser test needs Chromium and its driver: "
                "apt-get install chromium chromium-driver", allow_module_level=True)

# After the skips, so that a skipped run does not import torch.
from serlib.checkpoints import save_checkpoint  # noqa: E402
from serlib.corpora import synthesize  # noqa: E402
from serlib.corpora.registry import CORPORA  # noqa: E402
from serlib.course import Course  # noqa: E402
from serlib.predict import Predictor  # noqa: E402
from serlib.train import TrainConfig, train_fold  # noqa: E402

pytestmark = pytest.mark.slow  # make test-fast leaves these out

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"
#: A synthetic IEMOCAP-layout course this small (40 utterances after the preset) where the
#: validation speaker 1F has utterances and the test speaker 1M anger and sadness, which
#: course.examples() must find for both notebooks.
UTTERANCES, SEED = 200, 3
TINY = TrainConfig(ser_model="alexnet_gap", num_epochs=1, batch_size=16, image_size=64)
#: Generous: the machine may be a shared 2-core one. Only failures wait this long.
SLOW = 180
PREDICTED = re.compile(r"predicted: (\w+); ((?:\w+ \d+ %(?:, )?)+)")


@dataclass
class Lab:
    """A running JupyterLab: its address, token, notebook folder and log."""

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen

    def api(self, path: str, method: str = "GET") -> object:
        """Call the server's REST API; its JSON answer, if any."""
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        """The server log's last lines, for failure messages."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(folder: Path) -> None:
    """JupyterLab user settings for the test: no news or update toasts over the page, and every
    cell attached to the DOM (the default windowing detaches or skips offscreen cells)."""
    for plugin, values in {
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False,
                                            "doNotDisturbMode": True},
        "notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        path = folder / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """The course the notebooks load: a small synthetic corpus, remembered in its course.json
    (the kernel finds it through ``SERLIB_DATA``, set for the server below)."""
    data = tmp_path_factory.mktemp("browser") / "data"
    root = synthesize(data / "synth-iemocap", "iemocap", UTTERANCES, SEED, jobs=2,
                      progress=False)
    chosen = Course("synthetic", root, data, UTTERANCES, SEED)
    labels = set(chosen.examples()["label"])
    assert {"anger", "sadness"} <= labels, f"speaker 1M lacks classes: {labels}"
    assert "1F" in set(chosen.index().table["speaker"]), "no validation speaker 1F"
    chosen.save()
    return chosen


@pytest.fixture(scope="module")
def checkpoint(course: Course) -> Path:
    """Notebook 8's model where the notebook looks for it, trained for one epoch so that its
    own fallback (the course's quick settings, 15 epochs) is not needed."""
    result = train_fold(course.features("logspec", progress=False), TINY, *course.fold,
                        progress=False, log=lambda line: None)
    return save_checkpoint(result, course.work / "models" / "alexnet_gap.pth")


@pytest.fixture(scope="module")
def lab(course: Course, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on a free port with a token, a temporary root and a clean configuration; the
    kernel ``python3`` is this interpreter (the server's). Stopped at the end, also on failure."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "notebooks"
    root.mkdir()
    _settings(tmp / "settings")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    for spec in CORPORA.values():  # the course.json decides the corpus
        env.pop(spec.env_var, None)
    # User config, data and runtime folders are replaced; the venv's own (sys.prefix) folders,
    # where the widgets' lab extension and the server extensions' config live, stay on the paths.
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               SERLIB_DATA=str(course.data), PYTHONUNBUFFERED="1")
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp / "jupyter.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.open_browser=False",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
               f"--LabApp.user_settings_dir={tmp / 'settings'}"]
    if os.geteuid() == 0:  # containers and CI runners: the server refuses root without this
        command.append("--allow-root")
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, cwd=root, stdout=out,
                                   stderr=subprocess.STDOUT)
    server = Lab(f"http://127.0.0.1:{port}", token, root, log, process)
    try:
        deadline = time.monotonic() + SLOW
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited ({process.returncode}):\n{server.log_tail()}")
            try:
                server.api("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in {SLOW} s:\n{server.log_tail()}")
                time.sleep(0.3)
        yield server
    finally:
        _stop(server)


def _stop(server: Lab) -> None:
    """Shut the server down through its API, which shuts its kernels down; if it does not
    answer, SIGTERM then SIGKILL (its kernels then exit by themselves: ipykernel watches its
    parent's pid, JPY_PARENT_PID)."""
    try:
        server.api("/api/shutdown", method="POST")
        server.process.wait(timeout=20)
        return
    except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
        pass
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Headless Chromium through Debian's chromedriver (no selenium-manager)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    log = tmp_path_factory.mktemp("chromium") / "chromedriver.log"
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(log)),
                               options=options)
    try:
        yield browser
    finally:
        browser.quit()


def _trimmed(source: Path, markers: Sequence[str],
             extra: Sequence[str] = ()) -> nbformat.NotebookNode:
    """A copy of ``source`` with its title and, verbatim, the one code cell holding each marker
    (in the notebook's order), outputs cleared; then the ``extra`` code cells."""
    nb = nbformat.read(source, as_version=4)
    cells = [nb.cells[0]]
    for marker in markers:
        found = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
        assert len(found) == 1, f"{source.name}: {len(found)} code cells hold {marker!r}"
        cells.append(found[0])
    trimmed = nbformat.v4.new_notebook(metadata=nb.metadata)
    for cell in cells:
        copy = nbformat.v4.new_code_cell(cell.source) if cell.cell_type == "code" else \
            nbformat.v4.new_markdown_cell(cell.source)
        trimmed.cells.append(copy)
    trimmed.cells += [nbformat.v4.new_code_cell(code) for code in extra]
    return trimmed


def _wait(driver: WebDriver, until: Callable[[WebDriver], object], what: str,
          timeout: float = SLOW) -> object:
    """Poll ``until`` (ignoring elements that vanish while JupyterLab redraws) until truthy."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException)).until(until)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}") from None


@pytest.fixture(scope="module", autouse=True)
def _fresh_artifacts() -> None:
    """No screenshot of an earlier run (a failure's, say) is left beside this run's."""
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()


def _shot(driver: WebDriver, name: str, element: WebElement | None = None) -> Path:
    """Save a screenshot of the page (scrolled to ``element``) into test-artifacts/browser/."""
    if element is not None:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    print(f"screenshot: {path}")
    return path


def _kernel_idle(driver: WebDriver) -> bool:
    """Whether the notebook's kernel is connected and idle, as the status bar says ("Python 3
    (ipykernel) | Idle"); the toolbar's indicator says idle already while there is no kernel."""
    items = driver.find_elements(By.CSS_SELECTOR, "#jp-main-statusbar .jp-StatusBar-TextItem")
    return any(i.get_attribute("textContent").strip() == "Python 3 (ipykernel) | Idle"
               for i in items)


@contextmanager
def _notebook(driver: WebDriver, lab: Lab, nb: nbformat.NotebookNode, name: str) -> Iterator[None]:
    """Open ``nb`` (written to the server's root as ``name``) in its own empty workspace, run all
    its cells from the Run menu and wait for them; none may fail, and the first, the guarded
    Colab install, must print nothing. On failure, a screenshot and the server's log. Its kernel
    is shut down at the end."""
    nbformat.write(nb, lab.root / name)
    stem = Path(name).stem
    try:
        driver.get(f"{lab.url}/lab/workspaces/{stem}/tree/{name}?token={lab.token}")
        # Run all before the kernel is connected clears the cells' prompts and runs nothing.
        _wait(driver, _kernel_idle, "the kernel to be connected and idle")
        _wait(driver, lambda d: d.find_element(
            By.XPATH, "//div[contains(@class, 'lm-MenuBar-itemLabel') and text()='Run']"),
            "the Run menu").click()
        _wait(driver, lambda d: d.find_element(
            By.XPATH, "//li[contains(@class, 'lm-Menu-item')][.//div[text()='Run All Cells']]"),
            "Run All Cells").click()
        count = sum(c.cell_type == "code" for c in nb.cells)

        def all_ran(d: WebDriver) -> bool:
            prompts = [p.get_attribute("textContent") for p in d.find_elements(
                By.CSS_SELECTOR, ".jp-CodeCell .jp-InputArea-prompt")]
            return len(prompts) == count and all(re.fullmatch(r"\[\d+\]:", p.strip())
                                                 for p in prompts)

        _wait(driver, all_ran, f"all {count} code cells of {name} to run")
        outputs = _texts(driver, ".jp-OutputArea-output")
        assert "Traceback" not in outputs, f"a cell of {name} failed:\n{outputs[-3000:]}"
        install = driver.find_elements(By.CSS_SELECTOR, ".jp-CodeCell")[0]
        assert '"google.colab" in sys.modules' in install.text
        printed = _texts(driver, ".jp-OutputArea-output", install)
        assert not printed, f"the guarded install cell printed (did pip run?): {printed}"
        yield
    except BaseException:
        try:
            _shot(driver, f"{stem}_failure")
        except Exception as error:  # a dead browser: the original failure matters more
            print(f"no failure screenshot: {error}")
        print(f"JupyterLab's log:\n{lab.log_tail()}")
        raise
    finally:
        try:  # frees the CPU and memory for the next test
            for session in lab.api("/api/sessions"):
                if session["path"].endswith(name):
                    lab.api(f"/api/sessions/{session['id']}", method="DELETE")
        except (OSError, urllib.error.URLError):  # the server is stopped by its fixture anyway
            pass


def _texts(driver: WebDriver, css: str, within: WebElement | None = None) -> str:
    """The text content of every element matching ``css`` (hidden ones too)."""
    scope = within or driver
    return "\n".join(e.get_attribute("textContent") for e in
                     scope.find_elements(By.CSS_SELECTOR, css))


def _image(scope: WebElement) -> str | None:
    """The ``src`` of the image in ``scope``'s output, or None while it is being redrawn."""
    images = scope.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")
    return images[0].get_attribute("src") if images else None


def _cell_of(element: WebElement) -> WebElement:
    """The notebook cell that shows ``element``."""
    return element.find_element(By.XPATH, "./ancestor::div[contains(@class, 'jp-CodeCell')]")


def test_browser_feature_explorer_redraws_when_a_slider_moves(driver: WebDriver, lab: Lab) -> None:
    """Notebook 2's explorer: one arrow key on the window slider's handle moves it from 40 to
    45 ms, and the spectrogram below is drawn again (a different JPEG)."""
    nb = _trimmed(ROOT / "notebooks" / "02_features.ipynb",
                  ['"google.colab" in sys.modules', "serlib.course.load()", "signals = {",
                   "interact(explore"])
    with _notebook(driver, lab, nb, "02_explorer.ipynb"):
        interact = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".widget-interact"),
                         "the explorer")
        first = _wait(driver, lambda d: _image(interact), "the explorer's spectrogram")
        assert first.startswith("data:image/jpeg;base64,")
        slider = interact.find_elements(By.CSS_SELECTOR, ".widget-slider")[0]
        assert "window_ms" in slider.find_element(By.CSS_SELECTOR, "label").text
        readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
        assert readout.get_attribute("textContent").strip() == "40"
        _shot(driver, "02_explorer_1_before", interact)

        handle = slider.find_element(By.CSS_SELECTOR, ".noUi-handle")
        handle.send_keys(Keys.ARROW_RIGHT)  # focuses the handle, then one step of 5 ms
        _wait(driver, lambda d: readout.get_attribute("textContent").strip() == "45",
              "the slider's readout to show 45")
        second = _wait(driver, lambda d: (src := _image(interact)) not in (None, first) and src,
                       "the spectrogram to be redrawn")
        assert second.startswith("data:image/jpeg;base64,")
        _shot(driver, "02_explorer_2_after", interact)
        outputs = _texts(driver, ".jp-OutputArea-output", interact)
        assert "Traceback" not in outputs, outputs


#: Appended to the trimmed copy: which Python the kernel runs (it must be this one's).
CHECK = 'print("kernel:", sys.prefix)'

#: ipywidgets 8's FileUpload keeps its <input type=file> out of the document and clicks it from
#: its button, which would open the native file chooser. This puts the input in the page
#: instead, where WebDriver can give it a file as the chooser would.
EXPOSE_FILE_INPUT = """\
const click = HTMLInputElement.prototype.click;
HTMLInputElement.prototype.click = function () {
  if (this.type !== "file" || this.isConnected) return click.call(this);
  this.setAttribute("data-browser-test", "upload");
  document.body.appendChild(this);
};"""


def test_browser_upload_predicts_the_emotion_of_a_wav(driver: WebDriver, lab: Lab, course: Course,
                                                     checkpoint: Path, tmp_path: Path) -> None:
    """Notebook 8's upload widget: a wav given to its file input reaches the kernel byte for byte,
    the widget shows the prediction figure, and the prediction printed in the notebook's format
    names the emotion and the probabilities that the checkpoint gives for that file here."""
    # A file as a phone records it: stereo at 22.05 kHz, a synthetic sad utterance of 1M.
    examples = course.examples().set_index("label")
    y, sr = sf.read(examples.loc["sadness", "path"], dtype="float32")
    wav = tmp_path / "browser-upload.wav"
    y = np.interp(np.arange(0, len(y), sr / 22_050), np.arange(len(y)), y)
    sf.write(wav, np.stack([y, y], axis=1), 22_050)
    predictor = Predictor(checkpoint)
    expected = predictor.predict(wav)

    nb = _trimmed(ROOT / "notebooks" / "08_your_own_recording.ipynb",
                  ['"google.colab" in sys.modules', "serlib.course.load()",
                   "Predictor(checkpoint)", "my_file = ", "predictor.predict(my_file)",
                   "FileUpload("], extra=[CHECK])
    with _notebook(driver, lab, nb, "08_upload.ipynb"):
        check = driver.find_elements(By.CSS_SELECTOR, ".jp-CodeCell")[-1]
        before = _texts(driver, ".jp-OutputArea-output", check)
        assert f"kernel: {sys.prefix}" in before, before
        # The notebook's own prediction of its stand-in recording, in the format compared below.
        assert PREDICTED.search(_texts(driver, ".jp-OutputArea-output")), "no printed prediction"

        button = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".widget-upload"),
                       "the upload button")
        assert button.text.strip() == "Upload (0)"
        widget = _cell_of(button)
        assert _image(widget) is None
        _shot(driver, "08_upload_1_before", button)

        driver.execute_script(EXPOSE_FILE_INPUT)
        button.click()
        field = _wait(driver, lambda d: d.find_element(
            By.CSS_SELECTOR, "input[type=file][data-browser-test=upload]"), "the file input")
        assert field.get_attribute("accept") == ".wav,.flac,.ogg,.mp3"
        field.send_keys(str(wav.resolve()))
        _wait(driver, lambda d: button.text.strip() == "Upload (1)", "the widget to hold the file")
        figure = _wait(driver, lambda d: _image(widget), "the prediction figure")
        assert figure.startswith("data:image/jpeg;base64,")
        _shot(driver, "08_upload_2_after", widget)
        saved = course.work / "uploads" / wav.name
        assert saved.read_bytes() == wav.read_bytes()

        # The widget prints the prediction above its figure, as the notebook's cell above does.
        text = _wait(driver, lambda d: PREDICTED.search(
            _texts(d, ".jp-OutputArea-output", widget)), "the uploaded file's printed prediction")
    emotion, probs = text.group(1), dict(
        (name, int(share)) for name, share in re.findall(r"(\w+) (\d+) %", text.group(2)))
    # A one-epoch model is nearly uniform: where classes tie within 1e-3, any of them may win
    # in another process; otherwise only the expected emotion.
    tied = {c for c, p in zip(predictor.classes, expected.probs, strict=True)
            if p >= expected.probs.max() - 1e-3}
    assert expected.emotion in tied and emotion in tied, (emotion, expected.emotion, tied)
    assert list(probs) == list(predictor.classes)
    for (name, share), p in zip(probs.items(), expected.probs, strict=True):
        assert abs(share - 100 * p) <= 1, (name, share, p)  # other thread counts: ±rounding
