"""Drive the app in real browsers: start ``streamlit run app.py`` on loopback, open headless Chromium,
and work Streamlit's widgets.  Used by ``tests/test_browser.py`` and ``bench/load.py``.

Needs ``/usr/bin/chromium`` and ``chromedriver`` (Debian: ``apt-get install chromium chromium-driver``)
and selenium (in requirements.txt).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


class PageError(AssertionError):
    """The page did not show what was expected (its text is in the message)."""


def available() -> bool:
    return CHROMIUM.exists() and Path(DRIVER).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(folder: Path, env: dict | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``(base URL, process)`` of an app server whose cache and log live in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {**os.environ, "LCA_CACHE_DIR": str(folder / "cache"), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), **(env or {})}
    log = open(folder / "streamlit.log", "w")
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
            raise PageError(f"streamlit did not start; log: {(folder / 'streamlit.log').read_text()[-2000:]}")
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def chromium(profile: Path, width: int = 1400, height: int = 1000, log_requests: bool = False):
    """A headless Chromium driven by selenium, its profile in ``profile``; with ``log_requests``, every
    request of its pages is kept for :func:`requested_urls`."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(arg)
    if log_requests:  # Chromium's DevTools events (Network.*) for every page, read with driver.get_log
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # Retried: of ten drivers started at once (bench/load.py), one has exited at start with status 1.
    for attempt in range(3):
        try:
            driver = webdriver.Chrome(service=Service(DRIVER), options=options)
            break
        except WebDriverException:
            if attempt == 2:
                raise
            time.sleep(1 + attempt)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver) -> list[str]:
    """Every URL the pages asked for since the last call (requests, WebSockets, redirects), from Chromium's
    performance log (:func:`chromium` with ``log_requests``), and every URL the page's DOM now points a
    resource at (scripts, styles, images, icons, frames, media), which covers those the browser fetches
    outside the page's own network log (the favicon)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(params["url"])
    urls += driver.execute_script(
        "return Array.from(document.querySelectorAll('link[href], script[src], img[src], iframe[src], source[src], "
        "video[src], audio[src]')).map(e => e.href || e.src)")
    return urls


def foreign_urls(urls, base: str) -> list[str]:
    """Those of ``urls`` on a host other than ``base``'s (inline ``data:``/``blob:``/``about:`` ones are the page's own).

    >>> foreign_urls(["http://127.0.0.1:8501/x", "data:image/svg+xml,<svg/>", "https://fonts.gstatic.com/i.svg"],
    ...              "http://127.0.0.1:8501")
    ['https://fonts.gstatic.com/i.svg']
    """
    own = urlparse(base).netloc
    return sorted({u for u in urls if urlparse(u).scheme not in ("data", "blob", "about", "chrome", "")
                   and urlparse(u).netloc != own})


def body(driver) -> str:
    return driver.execute_script("return document.body ? document.body.innerText : ''")


def wait_text(driver, text: str, timeout: float = 60, fail_on=("Traceback",), every: float = 0.5) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        shown = body(driver)
        if text in shown:
            return
        for bad in fail_on:
            if bad in shown:
                raise PageError(f"page shows {bad!r}:\n{shown[-3000:]}")
        time.sleep(every)
    raise PageError(f"{text!r} did not appear in {timeout} s; page:\n{body(driver)[-3000:]}")


def _clickable(driver, xpath: str, timeout: float = 20):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    element = WebDriverWait(driver, timeout).until(expected_conditions.element_to_be_clickable((By.XPATH, xpath)))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    return element


def click_button(driver, label: str) -> None:
    _clickable(driver, f"//button[.//p[normalize-space()='{label}']]").click()


def set_number(driver, expander: str | None, label: str, value: int) -> None:
    """Open an expander (when named) and type a value into one of its number inputs."""
    from selenium.webdriver.common.keys import Keys

    if expander:
        _clickable(driver, f"//details/summary[.//p[normalize-space()='{expander}']]").click()
    box = _clickable(driver, f"//input[@aria-label='{label}']")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.TAB)
    deadline = time.time() + 10
    while box.get_attribute("value") != str(value) and time.time() < deadline:
        time.sleep(0.2)
    if box.get_attribute("value") != str(value):
        raise PageError(f"{label!r} shows {box.get_attribute('value')!r}, not {value}")
    time.sleep(1.5)


def choose(driver, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (a combobox input with a popup list)."""
    from selenium.webdriver.common.by import By

    field = f"//div[@data-testid='stSelectbox'][.//input[@role='combobox'][@aria-label='{label}']]"
    _clickable(driver, f"{field}//button[@aria-haspopup='listbox']").click()
    _clickable(driver, f"//*[@role='option'][normalize-space()='{option}']").click()
    box = driver.find_element(By.XPATH, f"{field}//input[@role='combobox']")
    deadline = time.time() + 10
    while box.get_attribute("value") != option and time.time() < deadline:
        time.sleep(0.2)
    if box.get_attribute("value") != option:
        raise PageError(f"{label!r} shows {box.get_attribute('value')!r}, not {option!r}")
    time.sleep(1.5)


def open_page(driver, title: str, wait_for: str) -> None:
    _clickable(driver, f"//a[@data-testid='stSidebarNavLink'][.//span[normalize-space()='{title}']]").click()
    wait_text(driver, wait_for)
    time.sleep(2)  # let the charts draw


def quick_demo_settings(driver, mode: str, epochs: int, sentences: int) -> None:
    """On the Run page with the demo loaded: a cheaper analysis than the default (tests, load tests)."""
    choose(driver, "Search", mode)
    set_number(driver, "More settings", "Epochs per probe", epochs)
    set_number(driver, None, "Use at most this many training sentences (0 = all)", sentences)
    wait_text(driver, f"Sampled: {sentences} training sentences")
