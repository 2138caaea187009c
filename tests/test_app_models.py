"""AppTest: the Run page's model picker offers the installed models (added by name, converted GGUF files), each
with its size and licence, and runs the one picked by the name ``--model`` takes."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
APP = str(ROOT / "app.py")


def test_installed_models_are_offered_with_size_and_licence(app_cache, tmp_path):
    import tiny_gguf

    from lca.models.gguf import convert_gguf

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert "Installed model" not in at.radio(key="run_model_src").options  # nothing installed yet
    convert_gguf(tiny_gguf.build(tmp_path / "tiny")[0], alias="tiny", info={"licence": "MIT", "title": "Tiny Llama"})
    at.run()
    at.radio(key="run_model_src").set_value("Installed model").run()
    picker = at.selectbox(key="run_model_installed")
    assert picker.options == ["tiny — Tiny Llama (9k parameters · 0.0 MB · MIT)"] and picker.value == "tiny"
    assert not at.error and not at.exception
