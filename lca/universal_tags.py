"""Map language-specific POS tags to the 12 universal tags of Petrov, Das & McDonald (2012).

The 12 tags are ``NOUN VERB ADJ ADV PRON DET ADP NUM CONJ PRT . X``.  The tables live in
``lca/resources/*.map`` (``TAG<tab>UNIVERSAL`` per line) and are named by :data:`TAGSETS`:

``en-ptb``
    Penn Treebank (CoNLL-2000, UD English XPOS; plus the OntoNotes/EWT additions ``HYPH``,
    ``NFP``, ``ADD``, ``AFX``, ``GW``, ``XX``).
``de-tiger``
    STTS as in TIGER (UD German GSD XPOS; ``PAV`` is accepted for ``PROAV``).
``fr-ftb``
    The French Treebank tagset of Crabbé & Candito (2008).
``ud``
    UD's own 17-tag UPOS folded into the 12 tags (``PROPN``→``NOUN``, ``AUX``→``VERB``,
    ``CCONJ``/``SCONJ``→``CONJ``, ``PART``→``PRT``, ``PUNCT``→``.``, ``SYM``/``INTJ``→``X``).

Which tag set to compare across languages
-----------------------------------------
UD treebanks already carry UPOS, a 17-tag refinement of these 12 tags annotated consistently
across languages, so comparing UD corpora with each other (e.g. the parallel PUD treebanks in
English, German and French) uses their own ``upos`` column directly.  The 12-tag set is used
when a corpus has only a language-specific tagset, as CoNLL-2000 has only PTB tags, or to
reproduce the paper's cross-language analysis (section 5.5), which mapped each language's
tags with Petrov et al.'s tables: map every corpus in the comparison the same way (``en-ptb``
or ``de-tiger`` from ``xpos``, or ``ud`` from ``upos``) and never compare 17-tag and 12-tag
labels with each other.  The XPOS of UD French GSD is empty (``_``) and that of German and
French PUD is not STTS/FTB, so for those use ``ud`` on ``upos``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from ._validation import InputError, read_text_lines
from .data import Corpus

__all__ = ["UNIVERSAL_TAGS", "TAGSETS", "load_mapping", "to_universal"]

UNIVERSAL_TAGS = ("NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".", "X")
RESOURCES = Path(__file__).resolve().parent / "resources"
TAGSETS = {"en-ptb": "en-ptb.map", "de-tiger": "de-tiger.map", "fr-ftb": "fr-ftb.map", "ud": "ud-upos.map"}
_SOURCE = {"ud": "upos"}  # the column each tagset maps from; default xpos


@lru_cache(maxsize=None)
def _read_map(path: Path) -> Mapping[str, str]:
    mapping = {}
    for number, line in enumerate(read_text_lines(path), start=1):
        if not line.strip() or (line.startswith("#") and not line.startswith("#\t")):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or parts[1] not in UNIVERSAL_TAGS:
            raise InputError(
                f"{path}, line {number}: expected TAG<tab>UNIVERSAL with UNIVERSAL one of "
                f"{' '.join(UNIVERSAL_TAGS)}; found {line!r}"
            )
        mapping[parts[0]] = parts[1]
    return MappingProxyType(mapping)


def load_mapping(tagset: str) -> Mapping[str, str]:
    """The table of ``tagset``: a name in :data:`TAGSETS` or the path of a ``.map`` file.

    >>> load_mapping("en-ptb")["NNS"], load_mapping("de-tiger")["ART"], load_mapping("ud")["PROPN"]
    ('NOUN', 'DET', 'NOUN')
    """
    if tagset in TAGSETS:
        return _read_map(RESOURCES / TAGSETS[tagset])
    if isinstance(tagset, (str, Path)) and Path(tagset).is_file():
        return _read_map(Path(tagset).resolve())
    raise InputError(f"tagset must be one of {', '.join(TAGSETS)} or the path of a TAG<tab>UNIVERSAL file; got {tagset!r}")


def to_universal(corpus: Corpus, tagset: str, source: str | None = None, target: str = "upos") -> Corpus:
    """A copy of ``corpus`` whose ``target`` column holds the 12 universal tags of ``source``.

    Parameters
    ----------
    corpus : Corpus
    tagset : str
        A name in :data:`TAGSETS` or the path of a ``TAG<tab>UNIVERSAL`` file.
    source : str, optional
        The column to map: ``upos`` for ``tagset="ud"``, else ``xpos``.
    target : str
        The column to add or override (default ``upos``).

    Raises ``InputError`` naming every tag the table lacks, with where it first occurs.

    >>> c = to_universal(Corpus((("The", "cats", "sleep"),), {"xpos": (("DT", "NNS", "VBP"),)}), "en-ptb")
    >>> c.columns["upos"]
    (('DET', 'NOUN', 'VERB'),)
    """
    mapping = load_mapping(tagset)
    source = source or _SOURCE.get(tagset, "xpos")
    if source not in corpus.columns:
        raise InputError(f"{corpus.name} has no {source!r} column to map; its columns are {', '.join(corpus.columns) or 'none'}")
    unknown: dict[str, tuple[int, int]] = {}
    for k, tags in enumerate(corpus.columns[source]):
        for i, tag in enumerate(tags):
            if tag not in mapping and tag not in unknown:
                unknown[tag] = (k, i)
    if unknown:
        raise InputError(_unknown_message(corpus, tagset, source, unknown))
    mapped = tuple(tuple(mapping[t] for t in tags) for tags in corpus.columns[source])
    return Corpus(corpus.sentences, {**corpus.columns, target: mapped}, corpus.heads, corpus.name)


def _unknown_message(corpus: Corpus, tagset: str, source: str, unknown: Mapping[str, tuple[int, int]]) -> str:
    shown = [
        f"{tag!r} (sentence {k + 1}, word {i + 1} {corpus.sentences[k][i]!r})"
        for tag, (k, i) in list(unknown.items())[:10]
    ]
    more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
    if set(unknown) == {"_"}:
        hint = f"; {corpus.name} has no {source} annotation: for a UD corpus map its upos column with tagset='ud'"
    else:
        hint = f"; is {tagset!r} the tagset of its {source} column? For a UD corpus, tagset='ud' maps its upos column"
    return f"{corpus.name}: {source} tags not in the {tagset} table: {', '.join(shown)}{more}{hint}"
