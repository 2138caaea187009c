"""End to end in a real browser: ``streamlit run app.py``, the demo analysis, the neuron explorer.

Marked ``browser``; skipped when /usr/bin/chromium or chromedriver is missing
(``apt-get install -y chromium chromium-driver``).  Screenshots of every page go to
``test-output/browser/`` at the repository root (printed at the end).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
OUT = ROOT / "test-output" / "browser"
RUN_TIMEOUT = 240
# The paper grid at 2 epochs on 150 sentences is a few optimizer steps per probe, so the demo run
# through the UI stays within a few minutes; quick mode's converged probes (8,000 steps each) are
# checked on the whole demo by tests/test_integration.py.
QUICK_EPOCHS, QUICK_SENTENCES, MODE = 2, 150, "Paper grid (7 × 7 λ)"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists() or not Path(DRIVER).exists(),
                       reason="needs /usr/bin/chromium and chromedriver (apt-get install chromium chromium-driver)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {**os.environ, "LCA_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"streamlit did not start; log: {(tmp_path / 'streamlit.log').read_text()[-2000:]}")
        yield base, tmp_path / "cache"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={tmp_path / 'chrome-profile'}", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _body(driver) -> str:
    return driver.execute_script("return document.body ? document.body.innerText : ''")


def wait_text(driver, text: str, timeout: float = 60, fail_on=("Traceback",)) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = _body(driver)
        if text in body:
            return
        for bad in fail_on:
            if bad in body:
                pytest.fail(f"page shows {bad!r}:\n{body[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"{text!r} did not appear in {timeout} s; page:\n{_body(driver)[-3000:]}")


def click_button(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    button = WebDriverWait(driver, 20).until(
        expected_conditions.element_to_be_clickable((By.XPATH, f"//button[.//p[normalize-space()='{label}']]")))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()


def set_number(driver, expander: str, label: str, value: int) -> None:
    """Open an expander and type a value into one of its number inputs."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    if expander:  # the page may still be rendering: wait for the expander as for any element
        summary = WebDriverWait(driver, 20).until(expected_conditions.element_to_be_clickable(
            (By.XPATH, f"//details/summary[.//p[normalize-space()='{expander}']]")))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", summary)
        summary.click()
    box = WebDriverWait(driver, 20).until(
        expected_conditions.element_to_be_clickable((By.XPATH, f"//input[@aria-label='{label}']")))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.TAB)
    deadline = time.time() + 10
    while box.get_attribute("value") != str(value) and time.time() < deadline:
        time.sleep(0.2)
    assert box.get_attribute("value") == str(value)
    time.sleep(1.5)


def choose(driver, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (a combobox input with a popup list)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    field = f"//div[@data-testid='stSelectbox'][.//input[@role='combobox'][@aria-label='{label}']]"
    opener = WebDriverWait(driver, 20).until(expected_conditions.element_to_be_clickable(
        (By.XPATH, f"{field}//button[@aria-haspopup='listbox']")))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", opener)
    opener.click()
    WebDriverWait(driver, 20).until(expected_conditions.element_to_be_clickable(
        (By.XPATH, f"//*[@role='option'][normalize-space()='{option}']"))).click()
    box = driver.find_element(By.XPATH, f"{field}//input[@role='combobox']")
    deadline = time.time() + 10
    while box.get_attribute("value") != option and time.time() < deadline:
        time.sleep(0.2)
    assert box.get_attribute("value") == option, box.get_attribute("value")
    time.sleep(1.5)


def screenshot(driver, name: str) -> Path:
    """Full-page PNG: the window grows to the page's height first."""
    height = driver.execute_script(
        "const m = document.querySelector('[data-testid=\"stMain\"]') || document.body;"
        "return Math.max(m.scrollHeight, document.body.scrollHeight);")
    driver.set_window_size(1400, min(max(int(height) + 100, 1000), 9000))
    time.sleep(1.5)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


def open_page(driver, title: str, wait_for: str) -> None:
    from selenium.webdriver.common.by import By

    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    link = WebDriverWait(driver, 20).until(expected_conditions.element_to_be_clickable(
        (By.XPATH, f"//a[@data-testid='stSidebarNavLink'][.//span[normalize-space()='{title}']]")))
    link.click()
    wait_text(driver, wait_for)
    time.sleep(2)  # let the charts draw


def test_demo_run_and_neuron_explorer(server, browser):
    from urllib.parse import parse_qs, urlparse

    import numpy as np

    from lca import explore
    from lca.runs import RunStore

    base, cache = server
    driver = browser
    driver.get(base + "/")
    wait_text(driver, "Run an analysis")
    wait_text(driver, "Training:")  # the demo corpus is loaded
    choose(driver, "Search", MODE)
    set_number(driver, "More settings", "Epochs per probe", QUICK_EPOCHS)
    set_number(driver, None, "Use at most this many training sentences (0 = all)", QUICK_SENTENCES)
    wait_text(driver, f"Sampled: {QUICK_SENTENCES} training sentences")
    started = time.time()
    click_button(driver, "Run")
    wait_text(driver, "finished in", timeout=RUN_TIMEOUT, fail_on=("Traceback", "The run failed"))
    print(f"\ndemo run through the UI took {time.time() - started:.0f} s")
    shots = [screenshot(driver, "1-run")]

    # the run is stored and owned by this session's token
    token = parse_qs(urlparse(driver.current_url).query)["s"][0]
    store = RunStore(cache / "runs")
    (rid,) = store.session_runs(token)
    result, corpus = store.load(rid), store.load_test_corpus(rid)

    open_page(driver, "Overview", "Zero-out ablation")
    shots.append(screenshot(driver, "2-overview"))

    open_page(driver, "Neuron explorer", "Top activating words")
    deadline = time.time() + 30
    words_drawn: list[str] = []
    while time.time() < deadline and not words_drawn:
        words_drawn = driver.execute_script(
            "return Array.from(document.querySelectorAll('.js-plotly-plot text')).map(t => t.textContent)")
        time.sleep(0.5)
    # the heatmap shows the sentence where the most salient neuron fires most
    from lca.cache import ActivationCache

    acts = ActivationCache(cache).get(result.activation_keys["test"])
    neuron = result.ranking[0]
    column = explore.neuron_column(neuron, acts.shape[1])
    sign = explore.preferred_sign(acts, column)
    best = explore.top_sentences(acts, column, corpus.sentence_offsets(), k=1, sign=sign)[0]
    expected = [w for w in corpus.sentences[best][:12]]
    missing = [w for w in expected if w not in words_drawn]
    assert not missing, f"heatmap lacks {missing}; drawn: {words_drawn[:80]}"
    assert "neuron=" in driver.current_url  # the permalink parameters are in the address
    shots.append(screenshot(driver, "3-explorer"))

    # a reload of the permalink reopens the same view in a new browser session
    driver.get(driver.current_url)
    wait_text(driver, "Top activating words")
    label = explore and f"Neuron {parse_qs(urlparse(driver.current_url).query)['neuron'][0]}"
    wait_text(driver, label)

    open_page(driver, "Layers and properties", "Neurons per layer in the minimal set")
    shots.append(screenshot(driver, "4-layers"))
    open_page(driver, "Playground", "Predicted tags")
    wait_text(driver, "Probabilities")
    shots.append(screenshot(driver, "5-playground"))
    assert np.isfinite(result.oracle_accuracy)
    print("screenshots:\n" + "\n".join(f"  {p}" for p in shots))
