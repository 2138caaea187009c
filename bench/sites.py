"""Benchmark of neuron sites and of the screen on big D (issue 15), with RANDOM-weight models.

    python bench/sites.py extract --site hidden|mlp [--sentences N]   # GPT-2-small shape, EWT dev + test
    python bench/sites.py screen [--sentences N] [--screen K]        # a D >= 100,000 shape, screened run
    python bench/sites.py run --site mlp [--sentences N]             # whole pipeline, unscreened (memory check)
    python bench/sites.py plan                                        # the README's memory table

No real GPT-2 is available offline, so the models are built from configs with random weights:
``gpt2-small`` is GPT-2 small's shape (12 blocks, 768 hidden, 3,072 MLP, vocabulary 50,257:
124M parameters) with a byte-level BPE tokenizer trained here on EWT train (GPT-2's kind of
tokenizer, a smaller vocabulary); ``wide-llama`` is a Llama-style gated MLP shape with a
131,072-neuron MLP site (16 blocks × 8,192, hidden 256).  Speeds are about the shape, not the
weights; accuracies of random models mean nothing and are not reported.  Each command runs in
its own process: ``peak_rss_gb`` is that process's peak resident memory (model included).
Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lca.store.cache import ActivationCache  # noqa: E402
from lca.data.corpus import read_conllu  # noqa: E402
from lca.models.extract import load_model  # noqa: E402
from lca.runs.memory import ModelShape, check_plan, plan_run, shape_of_config  # noqa: E402
from lca.runs.pipeline import corpus_activations, run_lca  # noqa: E402
from lca.runs.result import RunConfig  # noqa: E402
from lca.models.sites import site_layout  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "ud_english_ewt"
MODELS = Path(tempfile.gettempdir()) / "lca-bench-models"


def _shapes() -> dict[str, ModelShape]:
    """GPT-2 small, Llama-3.2-1B and Llama-3-8B (without the LM head), parameters counted on the meta device."""
    import transformers as tf

    llama = dict(vocab_size=128256, num_attention_heads=32, num_key_value_heads=8)
    return {"GPT-2 small": shape_of_config(tf.GPT2Config()),
            "Llama-3.2-1B": shape_of_config(tf.LlamaConfig(hidden_size=2048, intermediate_size=8192,
                                                           num_hidden_layers=16, head_dim=64, **llama)),
            "Llama-3-8B": shape_of_config(tf.LlamaConfig(hidden_size=4096, intermediate_size=14336,
                                                         num_hidden_layers=32, **llama))}


def _tokenizer():
    """A GPT-2-style byte-level BPE trained on EWT train (no real GPT-2 tokenizer offline)."""
    import transformers as tf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    train = read_conllu(DATA / "en_ewt-ud-train.reconstructed.conllu")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator((" ".join(s) for s in train.sentences),
                            trainers.BpeTrainer(vocab_size=50257, special_tokens=["<|endoftext|>"],
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tf.GPT2TokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                unk_token="<|endoftext|>")


def build(name: str) -> Path:
    """Save (once) a random-weight model of shape ``name`` with its tokenizer; return the folder."""
    import torch
    import transformers as tf

    folder = MODELS / name
    if (folder / "config.json").is_file():
        return folder
    torch.manual_seed(0)
    tok = _tokenizer()
    if name == "gpt2-small":
        model = tf.GPT2Model(tf.GPT2Config(vocab_size=50257, n_layer=12, n_head=12, n_embd=768, n_positions=1024))
    else:  # wide-llama: D_mlp = 16 × 8,192 = 131,072
        model = tf.LlamaModel(tf.LlamaConfig(vocab_size=50257, hidden_size=256, intermediate_size=8192,
                                             num_hidden_layers=16, num_attention_heads=4, num_key_value_heads=4,
                                             max_position_embeddings=1024, bos_token_id=0, eos_token_id=0))
    tok.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


_ANON = {"peak": 0}


def _sample_anon() -> None:
    """Peak anonymous memory (RssAnon, sampled every 0.2 s): RSS without the pages of memory-mapped
    activation files, which the OS can drop."""
    import threading

    def loop():
        while True:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    _ANON["peak"] = max(_ANON["peak"], int(line.split()[1]) * 1024)
            time.sleep(0.2)

    threading.Thread(target=loop, daemon=True).start()


def _slice(corpus, n):
    from lca.data.corpus import Corpus

    if not n:
        return corpus
    return Corpus(corpus.sentences[:n], {k: v[:n] for k, v in corpus.columns.items()}, None, f"{corpus.name}[:{n}]")


def extract(args) -> dict:
    loaded = load_model(str(build("gpt2-small")), device="cpu")
    dev = _slice(read_conllu(DATA / "en_ewt-ud-dev.conllu"), args.sentences)
    test = _slice(read_conllu(DATA / "en_ewt-ud-test.conllu"), args.sentences)
    layout = site_layout(loaded, args.site)
    with tempfile.TemporaryDirectory() as cache_dir:
        cache = ActivationCache(cache_dir)
        start = time.perf_counter()
        words = 0
        for corpus in (dev, test):
            corpus_activations(loaded, corpus, "last", cache, site=args.site)
            words += corpus.n_words
        seconds = time.perf_counter() - start
    return {"bench": "extract", "model": "gpt2-small shape, random weights", "site": args.site,
            "D": layout.n_neurons, "layers": layout.n_layers, "layer_size": layout.layer_size, "words": words,
            "seconds": round(seconds, 1), "words_per_s": round(words / seconds, 1),
            "peak_rss_gb": round(_peak_gb(), 2), "peak_anon_gb": round(_ANON["peak"] / 1e9, 2),
            "activation_file_gb": round(words * layout.n_neurons * 2 / 1e9, 2)}


def screen(args) -> dict:
    folder = build("wide-llama")
    train = _slice(read_conllu(DATA / "en_ewt-ud-dev.conllu"), args.sentences)
    test = _slice(read_conllu(DATA / "en_ewt-ud-test.conllu"), args.sentences)
    config = RunConfig(task="xpos", model=str(folder), device="cpu", mode="quick", site="mlp", screen=args.screen,
                       lambdas=(1e-3, 0.0), min_steps=args.min_steps, drop_unseen=True)
    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        result = run_lca(train, test, config, cache=ActivationCache(cache_dir))
        seconds = time.perf_counter() - start
    unscreened = plan_run(ModelShape(0, 16, 256, 8192), "mlp", train.n_words + test.n_words, len(result.tags))
    return {"bench": "screen", "model": "wide-llama shape (16 x 8192 MLP, hidden 256), random weights",
            "D": result.n_neurons, "screen_per_layer": args.screen, "analysed": result.minimal.analysed_neurons,
            "train_words": train.n_words, "test_words": test.n_words, "seconds": round(seconds, 1),
            "timings": result.timings, "screen_seconds": result.screen.seconds,
            "peak_rss_gb": round(_peak_gb(), 2), "peak_anon_gb": round(_ANON["peak"] / 1e9, 2),
            "unscreened_plan_gb": {"ram": round(unscreened.ram_bytes / 1e9, 2),
                                   "disk": round(unscreened.disk_bytes / 1e9, 2)}}


def run(args) -> dict:
    """The whole pipeline on the GPT-2-small shape, unscreened: the memory model's probe term against a measurement."""
    from transformers import AutoConfig

    folder = build("gpt2-small")
    train = _slice(read_conllu(DATA / "en_ewt-ud-dev.conllu"), args.sentences)
    test = _slice(read_conllu(DATA / "en_ewt-ud-test.conllu"), args.sentences // 4)
    config = RunConfig(task="xpos", model=str(folder), device="cpu", mode="quick", site=args.site,
                       lambdas=(1e-3, 0.0), epochs=1, min_steps=args.min_steps, drop_unseen=True)
    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        result = run_lca(train, test, config, cache=ActivationCache(cache_dir))
        seconds = time.perf_counter() - start
    planned = plan_run(shape_of_config(AutoConfig.from_pretrained(folder)), args.site, train.n_words + test.n_words,
                       len(result.tags))
    return {"bench": "run", "model": "gpt2-small shape, random weights", "site": args.site, "D": result.n_neurons,
            "train_words": train.n_words, "test_words": test.n_words, "seconds": round(seconds, 1),
            "timings": result.timings, "peak_rss_gb": round(_peak_gb(), 2),
            "peak_anon_gb": round(_ANON["peak"] / 1e9, 2), "planned_peak_gb": round(planned.ram_bytes / 1e9, 2),
            "planned": planned.lines()}


def plan(args) -> dict:
    rows, shapes = {}, _shapes()
    for name, shape in shapes.items():
        for site in ("hidden", "mlp"):
            for screen_k in (None, 256):
                p = plan_run(shape, site, 100_000, 50, screen=screen_k, gpu=False)
                rows[f"{name} {site}{'' if screen_k is None else ' screen 256'}"] = {
                    "params": shape.n_params, "D": p.n_site_neurons, "analysed": p.n_analysed,
                    "model_gb": round(p.model_bytes / 1e9, 2),
                    "extract_gb": round(p.extract_bytes / 1e9, 2), "screen_gb": round(p.screen_bytes / 1e9, 2),
                    "probe_gb": round(p.probe_bytes / 1e9, 2), "peak_ram_gb": round(p.ram_bytes / 1e9, 1),
                    "disk_gb": round(p.disk_bytes / 1e9, 1)}
    try:  # the refusal as a user sees it, on this machine
        check_plan(plan_run(shapes["Llama-3-8B"], "mlp", 100_000, 50), tempfile.gettempdir())
        refusal = None
    except ValueError as err:
        refusal = str(err)
    return {"bench": "plan", "words": 100_000, "tags": 50, "rows": rows, "refusal_8b_mlp": refusal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("extract")
    e.add_argument("--site", default="hidden", choices=("hidden", "mlp"))
    e.add_argument("--sentences", type=int, default=0, help="first N sentences of each split (0 = all)")
    s = sub.add_parser("screen")
    s.add_argument("--sentences", type=int, default=400)
    s.add_argument("--screen", type=int, default=256)
    s.add_argument("--min-steps", type=int, default=1000)
    r = sub.add_parser("run")
    r.add_argument("--site", default="mlp", choices=("hidden", "mlp"))
    r.add_argument("--sentences", type=int, default=700, help="first N dev sentences (test: N / 4)")
    r.add_argument("--min-steps", type=int, default=200)
    sub.add_parser("plan")
    args = parser.parse_args()
    _sample_anon()
    print(json.dumps({"extract": extract, "screen": screen, "run": run, "plan": plan}[args.command](args)), flush=True)


if __name__ == "__main__":
    main()
