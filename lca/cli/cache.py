"""``python -m lca cache [list|verify|clear]``: what the activation cache holds, whether it is intact,
and freeing its space."""
from __future__ import annotations

import datetime as dt

from .._validation import InputError
from ..store.cache import ActivationCache

__all__ = ["add_parser", "command"]

_EXAMPLES = """examples:
  python -m lca cache list                    # entries, largest first, with their size
  python -m lca cache verify                  # check every file against its digest; damaged ones are removed
  python -m lca cache clear --older-than 30   # free the space of entries unused for 30 days
  python -m lca cache clear --all
"""


def add_parser(sub) -> None:
    cache = sub.add_parser("cache", help="list, verify or clear the activation cache", epilog=_EXAMPLES)
    cache.add_argument("action", choices=("list", "verify", "clear"), help="what to do")
    cache.add_argument("--cache-dir", help="activation cache (default: $LCA_CACHE_DIR or ~/.cache/lca)")
    cache.add_argument("--all", action="store_true", help="clear: every entry")
    cache.add_argument("--older-than", type=float, metavar="DAYS", help="clear: entries created more than DAYS ago")
    cache.add_argument("--key", action="append", default=[], help="clear: this entry (a key or its first characters)")


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _line(entry: dict) -> str:
    created = entry.get("created")
    when = dt.datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M") if created else "?"
    shape = "×".join(map(str, entry.get("shape", ())))
    what = " · ".join(str(entry[k]) for k in ("model", "corpus", "aggregation", "site") if entry.get(k))
    return f"{entry['key'][:12]}  {_size(int(entry.get('size', 0))):>9}  {shape:>14}  {when}  {what}"


def command(args) -> int:
    cache = ActivationCache(args.cache_dir)
    entries = cache.entries()
    if args.action == "list":
        for entry in entries:
            print(_line(entry))
        total = sum(int(e.get("size", 0)) for e in entries)
        print(f"{len(entries)} entries, {_size(total)} in {cache.directory}")
    elif args.action == "verify":
        damaged = [e for e in entries if cache.get(e["key"]) is None]
        for entry in damaged:
            print(f"damaged, removed: {_line(entry)}")
        print(f"{len(entries) - len(damaged)} of {len(entries)} entries intact"
              + (f"; {len(damaged)} damaged ones removed (a run recomputes them)" if damaged else ""))
        return 1 if damaged else 0
    else:
        chosen = _chosen(entries, args)
        for entry in chosen:
            cache.delete(entry["key"])
        freed = sum(int(e.get("size", 0)) for e in chosen)
        partials = cache.clean_partials()
        print(f"removed {len(chosen)} entries ({_size(freed)})"
              + (f" and {len(partials)} partial files of stopped writers" if partials else ""))
    return 0


def _chosen(entries: list[dict], args) -> list[dict]:
    if not (args.all or args.older_than is not None or args.key):
        raise InputError("cache clear needs --all, --older-than DAYS or --key KEY")
    if args.all:
        return entries
    chosen = []
    if args.older_than is not None:
        cutoff = dt.datetime.now().timestamp() - 86400 * args.older_than
        chosen += [e for e in entries if e.get("created", 0) < cutoff]
    for prefix in args.key:
        found = [e for e in entries if e["key"].startswith(prefix)]
        if len(found) != 1:
            raise InputError(f"--key {prefix!r} matches {len(found)} entries; give more of the key "
                             "(see `python -m lca cache list`)")
        chosen += [e for e in found if e not in chosen]
    return chosen
