"""Small rendering helpers shared by the pages: the intro, charts and download buttons, names."""
from __future__ import annotations

import hashlib
import re

import streamlit as st

from lca.report import viz
from lca.neurons import neuron_label
from lca.runs.result import LCAResult

from .cached import store
from .runtime import through_entry_point

_PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d",
                                                                     "autoScale2d", "toggleSpikelines"],
                  "toImageButtonOptions": {"format": "png", "scale": 2}}  # the camera button saves a PNG in the browser


def intro(title: str, text: str) -> None:
    """Every page opens with its title and two sentences on what it shows and which part of the paper."""
    through_entry_point()
    st.title(title)
    st.markdown(text)


def safe_name(name: str) -> str:
    """A file name made of letters, digits, ``-``, ``_`` and ``.`` only.

    >>> safe_name("xpos / bert base")
    'xpos_bert_base'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "file"


def chart(fig, name: str, key: str | None = None) -> None:
    """Render a plotly figure with a download button for it as a standalone HTML file."""
    name = safe_name(name)
    st.plotly_chart(fig, width="stretch", key=f"chart_{key or name}", config=_PLOTLY_CONFIG)
    st.download_button("Download chart (HTML)", data=lambda: viz.figure_html(fig), file_name=f"{name}.html",
                       mime="text/html", key=f"dl_{key or name}", on_click="ignore", icon=":material/download:")


def csv_button(frame, name: str, label: str = "Download table (CSV)", key: str | None = None) -> None:
    """A download button for a pandas frame as CSV."""
    st.download_button(label, data=frame.to_csv(index=False).encode(), file_name=f"{safe_name(name)}.csv", mime="text/csv",
                       key=f"csv_{key or name}", on_click="ignore", icon=":material/download:")


def result_json_button(rid: str, key: str = "result_json") -> None:
    """A download button for the run's stored ``result.json``."""
    path = store().path(rid) / "result.json"
    st.download_button("Download result.json", data=lambda: path.read_bytes(), file_name=f"lca-{rid}-result.json",
                       mime="application/json", key=key, on_click="ignore", icon=":material/download:")


def neuron_name(result: LCAResult, flat: int) -> str:
    """The neuron's stable label (``layer:index``, see :func:`lca.neurons.neuron_label`) in this run."""
    return neuron_label(flat, result.layer_size, result.n_layers, result.pair, result.site)


def file_digest(data: bytes) -> str:
    """A short content hash of uploaded bytes (a cache and widget key)."""
    return hashlib.sha256(data).hexdigest()[:12]


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for one: "1 shared neuron", "3 shared neurons".

    >>> count(1, "shared neuron"), count(1_200, "tag"), count(2, "was", "were")
    ('1 shared neuron', '1,200 tags', '2 were')
    """
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def literal_md(text: str) -> str:
    """Typed text shown literally in markdown (also ``1.``, ``-`` or ``+`` that would start a list)."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~$])", r"\\\1", text)


def tag_md(tag: str) -> str:
    """A tag as literal markdown (``$``, ``|``, backticks and the like are tags of the PTB set); a punctuation
    tag quoted, to be seen.  Inline, so only what would format is escaped."""
    text = re.sub(r"([\\`*_\[\]#|$~<>])", r"\\\1", tag)
    return text if re.search(r"[A-Za-z0-9]", tag) else f"“{text}”"

