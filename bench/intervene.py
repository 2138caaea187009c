"""Figures for the causal check (issue 14), and a masked-LM head for the bundled model.

    python bench/intervene.py mlm-head OUT [--sentences 3000 --steps 2000]
        all-MiniLM-L6-v2 ships without a language-model head.  This fits one (BERT's transform and
        output bias; the output embeddings stay tied to the frozen input embeddings) on the frozen
        encoder's top layer at masked positions of EWT *train* sentences (15 % of the subword tokens
        masked), and saves a BertForMaskedLM folder that `lca intervene --model OUT` can score.
        Held-out accuracy is printed: the head is a probe of the top layer, not the pretrained head.

    python bench/intervene.py report RUN_DIR [RUN_DIR ...] [--html DIR]
        Prints intervention.json's figures as markdown tables and writes the plotly figures.

Run ``python -m lca intervene RUN_DIR ...`` first (see docs/intervene.md for the commands).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def mlm_head(out: str, n_sentences: int, steps: int, data_dir: str, seed: int = 0) -> None:
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM

    from lca.data.datasets import load_dataset, sample_sentences
    from lca.models.extract import bundled_model_path

    torch.manual_seed(seed)
    path = bundled_model_path()
    model = BertForMaskedLM.from_pretrained(path).eval()  # head freshly initialized, encoder = MiniLM
    tok = AutoTokenizer.from_pretrained(path)
    train = sample_sentences(load_dataset("ud-english-ewt", "train", data_dir), n_sentences, seed)
    rng = np.random.default_rng(seed)
    hidden, gold = [], []
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(train.sentences), 32):
            enc = tok([list(s) for s in train.sentences[i:i + 32]], is_split_into_words=True, truncation=True,
                      max_length=128, padding=True, return_tensors="pt")
            ids = enc["input_ids"]
            special = torch.tensor([[t in tok.all_special_ids for t in row] for row in ids.tolist()])
            masked = torch.from_numpy(rng.random(ids.shape) < 0.15) & ~special & enc["attention_mask"].bool()
            states = model.bert(input_ids=ids.masked_fill(masked, tok.mask_token_id),
                                attention_mask=enc["attention_mask"]).last_hidden_state
            hidden.append(states[masked])
            gold.append(ids[masked])
    H, y = torch.cat(hidden), torch.cat(gold)
    print(f"{len(y)} masked tokens from {len(train.sentences)} EWT train sentences in {time.perf_counter() - start:.0f} s")
    n_dev = len(y) // 10
    head = model.cls.predictions
    head.decoder.weight.requires_grad_(False)  # tied to the input embeddings
    params = [p for p in head.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=1e-3)
    for step in range(steps):
        idx = torch.randint(n_dev, len(y), (256,))
        loss = torch.nn.functional.cross_entropy(head(H[idx]), y[idx])
        optim.zero_grad()
        loss.backward()
        optim.step()
    with torch.inference_mode():
        dev_acc = float((head(H[:n_dev]).argmax(-1) == y[:n_dev]).float().mean())
    model.save_pretrained(out)
    tok.save_pretrained(out)
    Path(out, "lca_head.json").write_text(json.dumps({"kind": "fitted masked-LM head on frozen all-MiniLM-L6-v2",
                                                     "sentences": len(train.sentences), "masked_tokens": int(len(y)),
                                                     "steps": steps, "heldout_accuracy": dev_acc}, indent=1))
    print(f"held-out masked-token accuracy {dev_acc:.4f} (last training loss {loss.item():.3f}); wrote {out}")


def report(run_dirs: list[str], html: str | None) -> None:
    from lca.causal import viz as intervene_viz
    from lca.report import viz

    for run_dir in run_dirs:
        data = json.loads(Path(run_dir, "intervention.json").read_text())
        flow = data["flow"]
        print(f"\n### {run_dir}: {data['model']}, {data['task']}, mode {data['mode']}, "
              f"{flow['n_words']} test words, read layer {flow['read_layer']}\n")
        print(f"clean: {flow['clean']['accuracy']:.4f}\n")
        print("| set | silenced | top | random (mean ± sd) | draws | bottom |\n|---|---|---|---|---|---|")
        for s in flow["sets"]:
            r = s["random"]
            print(f"| {s['name']} | {s['n_neurons']} | {s['top']['accuracy']:.4f} | {r['accuracy']:.4f} ± {r['sd']:.4f} | "
                  f"{', '.join(f'{d:.3f}' for d in r['draws'])} | {s['bottom']['accuracy']:.4f} |")
        if flow["heatmap"]:
            h = flow["heatmap"]
            own, rand = np.asarray(h["own"], float), np.asarray(h["random"], float)
            print("\n| tag | own neurons | own-tag drop, own | own-tag drop, random | other tags' drop, own (mean) |\n"
                  "|---|---|---|---|---|")
            for i, t in enumerate(h["tags"]):
                others = np.delete(own[i], i).mean() if len(h["tags"]) > 1 else float("nan")
                print(f"| {t} | {h['n_neurons'][i]} | {own[i, i]:+.4f} | {rand[i, i]:+.4f} | {others:+.4f} |")
        if data.get("lm"):
            lm = data["lm"]
            print(f"\n{lm['kind']} LM: clean loss {lm['clean']['loss']:.3f}, accuracy {lm['clean']['accuracy']:.4f}\n")
            print("| set | loss top | loss random (mean ± sd) | loss bottom | acc top | acc random | acc bottom |\n"
                  "|---|---|---|---|---|---|---|")
            for s in lm["sets"]:
                r = s["random"]
                print(f"| {s['name']} | {s['top']['loss']:.3f} | {r['loss']:.3f} ± {r['loss_sd']:.3f} | "
                      f"{s['bottom']['loss']:.3f} | {s['top']['accuracy']:.4f} | {r['accuracy']:.4f} ± "
                      f"{r['accuracy_sd']:.4f} | {s['bottom']['accuracy']:.4f} |")
            if lm.get("heatmap"):
                h = lm["heatmap"]
                print("\n| tag silenced | Δloss own tag (own neurons) | Δloss own tag (random) | Δloss other tags (own, mean) |\n"
                      "|---|---|---|---|")
                own, rand = np.asarray(h["own"], float), np.asarray(h["random"], float)
                for i, t in enumerate(h["tags"]):
                    print(f"| {t} | {own[i, i]:+.3f} | {rand[i, i]:+.3f} | {np.nanmean(np.delete(own[i], i)):+.3f} |")
        print(f"\ncost: {data['cost']}; seconds: {data['timings']}")
        if html:
            out = Path(html)
            out.mkdir(parents=True, exist_ok=True)
            stem = Path(run_dir).name
            figs = {"flow": intervene_viz.flow_bars(flow), "tags": intervene_viz.flow_tag_bars(flow)}
            if flow["heatmap"]:
                figs["heatmap"] = intervene_viz.silencing_heatmap(flow["heatmap"])
            if data.get("lm"):
                figs["lm_tags"] = intervene_viz.lm_tag_bars(data["lm"])
                if data["lm"].get("heatmap"):
                    figs["lm_heatmap"] = intervene_viz.silencing_heatmap(data["lm"]["heatmap"], unit="loss increase")
            for name, fig in figs.items():
                (out / f"{stem}-{name}.html").write_text(viz.figure_html(fig))
            print(f"figures: {', '.join(str(out / f'{stem}-{n}.html') for n in figs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    head = sub.add_parser("mlm-head")
    head.add_argument("out")
    head.add_argument("--sentences", type=int, default=3000)
    head.add_argument("--steps", type=int, default=2000)
    head.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    rep = sub.add_parser("report")
    rep.add_argument("run_dirs", nargs="+")
    rep.add_argument("--html")
    args = parser.parse_args()
    if args.command == "mlm-head":
        mlm_head(args.out, args.sentences, args.steps, args.data_dir)
    else:
        report(args.run_dirs, args.html)


if __name__ == "__main__":
    main()
