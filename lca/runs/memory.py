"""How much memory and disk a run needs, estimated before it starts; a run that cannot fit is refused.

A run holds, at its peak (bytes), besides about 0.5 GB for Python, PyTorch and the tokenizer:

- the model: ``params × 4`` (float32 on the CPU) or ``× 2`` (half precision on a GPU, in GPU
  memory, not RAM);
- while extracting: one batch of word activations, ``min(1024 × D_site, 2^26)`` float32 values,
  about three copies (gathered tokens, folded words, the float16 row block); on a GPU the batch is
  computed there and ``min(32768 × D_site, 2^28)`` values come back, in float32 and float16;
- while screening (``--screen K``): per-tag sums of every screened neuron, ``T × D_screened × 8``
  (twice for a pair task);
- while probing, over the ``D`` analysed neurons (all of the site's, those of ``--layers``, or
  ``K`` per layer after a screen): an evaluation chunk (8,192 rows for class means, 4,096 for the
  zero-out curve) in float16 and float32, ``8192 × D × 6``, plus one program of probes: weights,
  gradients and two Adam moments in float32 of up to 2^24 weights (49 grid probes), or of one probe
  when it is bigger: ``16 × max(min(2^24, 49 × D × T), D × T)``;
- on disk: the activation files of train and test, ``words × D × 2``.

The activation files are memory-mapped: the pages the OS keeps cached are not counted (they are
dropped first when memory runs short).  :func:`check_plan` compares the peak with the RAM (and
GPU memory) available and the activation files with the cache's free disk, and raises
:class:`InputError` with the numbers and what to change.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from .._validation import InputError, check_choice
from ..method.probe_blocks import PROGRAM_WEIGHTS as _PROGRAM  # weights one program of probes holds
from ..models.sites import SITES, SiteLayout

__all__ = ["ModelShape", "MemoryPlan", "shape_of_config", "shape_of_loaded", "shape_of_model", "plan_run", "check_plan",
           "preflight", "available_memory", "process_bytes", "PROCESS_BYTES"]

_GB = 1e9
_EVAL_ROWS = 8192  # Features.column_means' chunk (the zero-out curve's is 4,096)
_BATCH_VALUES = 2 ** 26  # lca.models.extract._BATCH_VALUES["cpu"]
_SAFETY = 0.9  # use at most this share of what is free
# Python, PyTorch and the tokenizer before any model: measured peaks (bench/sites.py) were 0.3-0.4 GB above the rest.
_BASE = 500_000_000
# What a process of its own asks for before the run's peak (the server's job queue, a sweep's Ray tasks): a fresh
# interpreter with torch and transformers imported, measured ~0.6-0.8 GB.
PROCESS_BYTES = 700 * 2 ** 20
_UNKNOWN_MODEL_BYTES = 2 * 2 ** 30  # a model whose shape cannot be read from its config


@dataclass(frozen=True)
class ModelShape:
    """What the memory model needs to know about a model.

    >>> ModelShape(124_439_808, 12, 768, 3072).layout("mlp").n_neurons
    36864
    """

    n_params: int
    n_blocks: int
    hidden: int
    mlp_width: int

    def layout(self, site: str) -> SiteLayout:
        check_choice("site", site, SITES)
        return (SiteLayout("hidden", self.n_blocks + 1, self.hidden) if site == "hidden"
                else SiteLayout("mlp", self.n_blocks, self.mlp_width))


def _width(config, hidden: int) -> int:
    for name in ("intermediate_size", "n_inner", "d_inner", "ffn_dim", "hidden_dim"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 4 * hidden  # GPT-2's n_inner=None


def shape_of_config(config) -> ModelShape:
    """A model's shape from its Hugging Face config, its parameters counted on the meta device (no memory)."""
    from transformers import AutoModel

    from ..models.loading import config_dims

    with torch.device("meta"):
        model = AutoModel.from_config(config)
    n_blocks, hidden = config_dims(config)
    return ModelShape(sum(p.numel() for p in model.parameters()), n_blocks, hidden, _width(config, hidden))


def shape_of_loaded(loaded) -> ModelShape:
    from ..models.sites import site_layout

    try:
        width = site_layout(loaded, "mlp").layer_size
    except InputError:  # no MLP site: only the hidden one can be planned
        width = 0
    return ModelShape(sum(p.numel() for p in loaded.model.parameters()), loaded.n_layers - 1, loaded.layer_size,
                      width)


@dataclass(frozen=True)
class MemoryPlan:
    """A run's estimated peak memory and disk, in bytes (see the module docstring for the formulas)."""

    site: str
    n_site_neurons: int  # D of the whole site
    n_analysed: int  # D the probes see
    n_screened: int  # neurons streamed through the screen (0: no screen)
    n_words: int  # train + test
    n_tags: int
    model_bytes: int
    extract_bytes: int
    screen_bytes: int
    probe_bytes: int
    disk_bytes: int
    model_on_gpu: bool

    @property
    def ram_bytes(self) -> int:
        model = 0 if self.model_on_gpu else self.model_bytes
        return _BASE + model + max(self.extract_bytes + self.screen_bytes, self.probe_bytes)

    def lines(self) -> list[str]:
        where = "GPU" if self.model_on_gpu else "RAM"
        return [f"model {self.model_bytes / _GB:.1f} GB ({where})",
                f"extraction batch {self.extract_bytes / _GB:.2f} GB",
                *([f"screen of {self.n_screened:,} neurons {self.screen_bytes / _GB:.2f} GB"]
                  if self.n_screened else []),
                f"probes on {self.n_analysed:,} neurons × {self.n_tags} tags {self.probe_bytes / _GB:.2f} GB",
                f"peak RAM {self.ram_bytes / _GB:.1f} GB",
                f"activation files {self.disk_bytes / _GB:.1f} GB ({self.n_words:,} words × {self.n_analysed:,} "
                f"neurons × 2 bytes)"]


def plan_run(shape: ModelShape, site: str, n_words: int, n_tags: int, layers=None, screen: int | None = None,
             pair: bool = False, gpu: bool = False) -> MemoryPlan:
    """Estimate a run: ``layers`` (block or layer numbers of the site) and ``screen`` (K per layer) narrow ``D``.

    >>> p = plan_run(ModelShape(8_030_261_248, 32, 4096, 14336), "mlp", 100_000, 50)
    >>> p.n_analysed, round(p.disk_bytes / 1e9)
    (458752, 92)
    """
    layout = shape.layout(site)
    n_layers = layout.n_layers if layers is None else len([l for l in layers if l < layout.n_layers])
    screened = n_layers * layout.layer_size
    analysed = screened if screen is None else n_layers * min(screen, layout.layer_size)
    halves = 2 if pair else 1
    width = screened  # what extraction reads (with a screen: the first pass)
    # CPU: gathered tokens, folded words and the float16 block, all in RAM; GPU: only the float32 result
    # and its float16 copy come back to RAM, from batches of up to 32,768 tokens.
    extract = 6 * min(32_768 * width, 4 * _BATCH_VALUES) if gpu else 12 * min(1024 * width, _BATCH_VALUES)
    screen_bytes = 0 if screen is None else halves * n_tags * screened * 8 + 2 * screened * 8
    features = analysed * halves
    # A program holds up to 2^24 weights (the 49 grid probes of a small model fit in one), or one bigger probe.
    probe = min(_EVAL_ROWS, n_words) * features * 6 + 16 * max(min(_PROGRAM, 49 * features * n_tags), features * n_tags)
    return MemoryPlan(site, layout.n_neurons, features, 0 if screen is None else screened, n_words, n_tags,
                      shape.n_params * (2 if gpu else 4), extract, screen_bytes, probe, n_words * analysed * 2, gpu)


def process_bytes(config, shape: ModelShape | None, n_words: int, n_tags: int, gpu: bool = False) -> int:
    """Resident bytes a process of its own running ``config`` (a :class:`lca.runs.result.RunConfig`) on
    ``n_words`` words asks for: :data:`PROCESS_BYTES` plus the peak of :func:`plan_run` (model, extraction
    batch, probes; the memory-mapped activation files are left out, as there), or plus 2 GB when ``shape``
    is None.  The one figure of the server's job queue and of a sweep's Ray tasks.

    >>> from lca.runs.result import RunConfig
    >>> round(process_bytes(RunConfig(), ModelShape(22_713_216, 6, 384, 1536), 10_000, 17) / 2**20)
    1424
    """
    if shape is None:
        return PROCESS_BYTES + _UNKNOWN_MODEL_BYTES
    plan = plan_run(shape, config.site, n_words, n_tags, config.layers, config.screen, config.task == "dep-pair", gpu)
    return PROCESS_BYTES + plan.ram_bytes


def available_memory() -> int:
    """Bytes of RAM the OS can give without swapping (``MemAvailable``), or the total where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _gpu_free() -> int:
    return sum(torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count()))


def check_plan(plan: MemoryPlan, cache_dir, ram: int | None = None, disk: int | None = None,
               gpu: int | None = None) -> None:
    """Raise :class:`InputError` with the numbers when ``plan`` does not fit this machine."""
    ram = available_memory() if ram is None else ram
    disk = shutil.disk_usage(_existing(Path(cache_dir))).free if disk is None else disk
    advice = ("analyse fewer layers (--layers), screen the neurons (--screen K keeps the best K of each layer, "
              "then runs LCA on those) or use fewer sentences (--max-sentences)")
    if plan.ram_bytes > _SAFETY * ram:
        raise InputError(f"this run needs about {plan.ram_bytes / _GB:.1f} GB of memory but {ram / _GB:.1f} GB are "
                         f"available ({'; '.join(plan.lines()[:-1])}); {advice}")
    if plan.model_on_gpu and torch.cuda.is_available():
        gpu = _gpu_free() if gpu is None else gpu
        if plan.model_bytes > _SAFETY * gpu:
            raise InputError(f"the model needs {plan.model_bytes / _GB:.1f} GB of GPU memory but "
                             f"{gpu / _GB:.1f} GB are free; use --device cpu or a smaller model")
    if plan.disk_bytes > _SAFETY * disk:
        raise InputError(f"the activation files need {plan.disk_bytes / _GB:.1f} GB of disk ({plan.n_words:,} words × "
                         f"{plan.n_analysed:,} neurons × 2 bytes) but {disk / _GB:.1f} GB are free in {cache_dir}; "
                         f"set LCA_CACHE_DIR to a larger disk, or {advice}")


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def shape_of_model(config) -> ModelShape | None:
    """The shape of the model a run config names, from its config file alone; None if it cannot be read
    (loading it will then fail with a readable error)."""
    from transformers import AutoConfig

    from ..models.loading import model_path

    path = model_path(config.model, config.revision)  # fail at once, not after the hub's retries
    try:
        hf = AutoConfig.from_pretrained(path, revision=config.revision, trust_remote_code=config.trust_remote_code)
        if getattr(hf, "is_encoder_decoder", False):
            return None
        return shape_of_config(hf)
    except Exception:  # noqa: BLE001 - any failure here is reported by load_model
        return None


def preflight(config, loaded, n_words: int, n_tags: int, pair: bool, cache_dir) -> MemoryPlan | None:
    """Plan a run (``config`` a :class:`lca.runs.result.RunConfig`) and refuse it when it cannot fit.

    With ``loaded`` given the model is already in memory: only what the run adds is checked.
    """
    import dataclasses

    from ..models.loading import pick_device

    shape = shape_of_loaded(loaded) if loaded is not None else shape_of_model(config)
    if shape is None:
        return None
    gpu = (loaded.device if loaded is not None else pick_device(config.device)).type == "cuda"
    plan = plan_run(shape, config.site, n_words, n_tags, config.layers, config.screen, pair, gpu)
    check_plan(plan if loaded is None else dataclasses.replace(plan, model_bytes=0), cache_dir)
    return plan
