"""End to end in a real browser: ``streamlit run app.py``, the demo analysis, the neuron explorer; and every
page of a finished run asking for nothing from a host other than the app's own.

Marked ``browser``; skipped when /usr/bin/chromium or chromedriver is missing
(``apt-get install -y chromium chromium-driver``).  Screenshots of every page go to
``test-output/browser/`` at the repository root (printed at the end).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from browser import (available, chromium, click_button, foreign_urls, open_page, quick_demo_settings,  # noqa: E402
                     requested_urls, wait_text)
from browser import server as app_server  # noqa: E402

OUT = ROOT / "test-output" / "browser"
RUN_TIMEOUT = 240
# The paper grid at 2 epochs on 150 sentences is a few optimizer steps per probe, so the demo run
# through the UI stays within a few minutes; quick mode's converged probes (8,000 steps each) are
# checked on the whole demo by tests/test_integration.py.
QUICK_EPOCHS, QUICK_SENTENCES, MODE = 2, 150, "Paper grid (7 × 7 λ)"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not available(),
                       reason="needs /usr/bin/chromium and chromedriver (apt-get install chromium chromium-driver)"),
]


@pytest.fixture
def server(tmp_path):
    with app_server(tmp_path) as (base, _):
        yield base, tmp_path / "cache"


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path / "chrome-profile") as driver:
        yield driver


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


def test_demo_run_and_neuron_explorer(server, browser):
    from urllib.parse import parse_qs, urlparse

    import numpy as np

    from lca.report import explore
    from lca.runs.store import RunStore

    base, cache = server
    driver = browser
    driver.get(base + "/")
    wait_text(driver, "Run an analysis")
    wait_text(driver, "Training:")  # the demo corpus is loaded
    quick_demo_settings(driver, MODE, QUICK_EPOCHS, QUICK_SENTENCES)
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
    # the heatmap shows the sentence where the neuron it opened on (the purest of the top ranks) fires most
    from lca.neurons import parse_neuron
    from lca.store.cache import ActivationCache

    acts = ActivationCache(cache).get(result.activation_keys.test)
    wait_text(driver, "Opened on this neuron because")
    shown = parse_qs(urlparse(driver.current_url).query)["neuron"][0]
    neuron = parse_neuron(shown, result.layer_size, result.n_layers, result.site)
    column = explore.neuron_column(neuron, acts.shape[1])
    tag = explore.showcase_neuron(result.ranking, result.per_tag, result.weights, result.tags, acts,
                                  lambda n: explore.neuron_column(n, acts.shape[1]),
                                  [w for s in corpus.sentences for w in s], explore.word_tags(corpus, result.task))[1]
    sign = explore.weight_sign(result.weights, neuron, list(result.tags).index(tag))
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


# What each page shows once drawn (pages not listed here get a few seconds).
PAGE_TEXT = {"Run": "Earlier runs in this session", "Overview": "Zero-out ablation", "Neuron explorer":
             "Top activating words", "Layers and properties": "Neurons of one tag", "Playground": "Predicted tags",
             "Causal check": "On the test corpus", "Compare runs": "Compare runs"}


def test_no_page_asks_another_host_for_anything(tiny_bert, tmp_path):
    """Issue 26, item 15: an offline tool fetches nothing from outside. Every page of the app, with a finished
    run open, is visited in Chromium; every request its pages make (and every resource their DOM points at,
    the page icon included) must go to the app's own host."""
    from selenium.webdriver.common.by import By

    from conftest import app_corpus, fake_run_result
    from lca.models.extract import load_model
    from lca.runs.result import RunConfig
    from lca.runs.store import RunStore, new_token, run_id
    from lca.store.cache import ActivationCache

    with app_server(tmp_path / "app") as (base, _), chromium(tmp_path / "profile", log_requests=True) as driver:
        cache = tmp_path / "app" / "cache"
        train, test = app_corpus(40, seed=1, name="tiny/train"), app_corpus(12, seed=2, name="tiny/test")
        result = fake_run_result(load_model(tiny_bert, "cpu"), train, test, ActivationCache(cache))
        store, token = RunStore(cache / "runs"), new_token()
        rid = run_id(RunConfig.from_dict(result.config), train, test)
        store.save(rid, result, test, {"dataset": "tiny"}, train=train)
        store.claim(token, rid)

        driver.get(f"{base}/?s={token}&run={rid}")
        wait_text(driver, "Run an analysis")
        # each link's text is its icon's name (a ligature of the bundled icon font), then its title
        titles = [e.text.strip().splitlines()[-1] for e in
                  driver.find_elements(By.XPATH, "//a[@data-testid='stSidebarNavLink']")]
        assert set(PAGE_TEXT) <= set(titles), titles
        asked = {"start": requested_urls(driver)}
        for title in titles:
            if title in PAGE_TEXT:
                open_page(driver, title, PAGE_TEXT[title])
            else:
                open_page(driver, title, title)
                time.sleep(3)
            asked[title] = requested_urls(driver)
        own = [u for urls in asked.values() for u in urls if u.startswith(base)]
        assert own, "no request was recorded at all: the recorder does not work"
        elsewhere = {page: foreign_urls(urls, base) for page, urls in asked.items() if foreign_urls(urls, base)}
        assert not elsewhere, f"pages asked other hosts: {elsewhere}"
