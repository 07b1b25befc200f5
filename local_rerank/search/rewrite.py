"""Query rewriting without a language model: variants of a short or vague query.

* **normalised**: NFKC (full-width and half-width forms), when that changes the query;
* **expanded**: abbreviations replaced by the long forms that the folder's own text defines
  ("Low-Rank Adaptation (LoRA)", found at index time by
  :func:`~local_rerank.search.abbreviations.definitions_in`), and long
  forms followed by their abbreviation;
* **resolved**: a follow-up query with a pronoun ("does it support CUDA", 它支持吗) or an
  ellipsis ("and on Windows?") completed with the previous query's words;
* **feedback**: the query plus frequent words of the top first-stage hits (pseudo-relevance
  feedback), for the first stage only.

The first stage searches every variant and fuses the rankings (:func:`fuse_rankings`); the
reranker scores each candidate against the query and every variant meant for it, and the
scores are fused by their maximum (:func:`fuse_scores`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from local_rerank.search.cjk import UNSPACED_RUN, is_gram, normalize, query_terms
from local_rerank.search.hits import SearchHit
from local_rerank.search.lexical import STOPWORDS

_PRONOUNS = re.compile(r"\b(it|its|this|that|they|them|their|these|those)\b|它|其|这个|那个|それ|これ|あれ", re.I)
_ELLIPSIS = re.compile(r"^\s*(and|what about|how about|also|or)\b|^\s*(那|还有|それで|では)", re.I)
_COMMON = STOPWORDS | {"about", "also"}
_FEEDBACK_HITS = 3
_FEEDBACK_TERMS = 5
_RRF_K = 60


@dataclass(frozen=True)
class Variant:
    """A rewritten query, why it was made, and whether the reranker scores candidates against it."""

    text: str
    reason: str
    rerank: bool = True


def expanded(query: str, definitions: Mapping[str, str]) -> str | None:
    """``query`` with each defined abbreviation replaced by "long form (ABBR)" and each long form
    followed by "(ABBR)"; None when nothing in it is defined. ``definitions``: {abbr: long form}."""
    text = query
    for short, long_form in definitions.items():
        pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(short)}(?![A-Za-z0-9_])")  # "LLM是什么" too
        if pattern.search(text) and long_form.lower() not in text.lower():
            text = pattern.sub(f"{long_form} ({short})", text, count=1)
        elif long_form.lower() in text.lower() and not pattern.search(text):
            spot = text.lower().index(long_form.lower()) + len(long_form)
            text = f"{text[:spot]} ({short}){text[spot:]}"
    return text if text != query else None


def resolved(query: str, previous: str | None) -> str | None:
    """``query`` completed with the previous query's words when it refers back to it (a pronoun,
    or an opening like "and", "what about", 那); None otherwise."""
    if not previous or not (_PRONOUNS.search(query) or _ELLIPSIS.search(query)):
        return None
    own = set(query_terms(query))
    topic = [term for term in _words(previous) if term not in own]
    if not topic:
        return None
    subject = " ".join(topic) if not UNSPACED_RUN.search(previous) else "".join(topic)
    text, replaced = _PRONOUNS.subn(subject, query, count=1)
    return text if replaced else f"{subject} {_ELLIPSIS.sub('', query).strip()}"


def feedback_terms(query: str, hits: Sequence[SearchHit], count: int = _FEEDBACK_TERMS) -> list[str]:
    """Words (four letters or more) or bigrams shared by at least two of the top hits' passages
    and not in ``query``, most frequent first."""
    own = set(query_terms(query))
    seen: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for hit in hits[:_FEEDBACK_HITS]:
        terms = [term for term in query_terms(hit.passage.text) if _useful(term) and term not in own]
        seen.update(set(terms))
        total.update(terms)
    shared = [term for term in total if seen[term] >= 2]
    return sorted(shared, key=lambda term: (-total[term], term))[:count]


def variants(query: str, previous: str | None = None, definitions: Mapping[str, str] | None = None,
             hits: Sequence[SearchHit] = ()) -> list[Variant]:
    """The variants of ``query`` (see the module docstring), without duplicates or the query itself."""
    normal = normalize(query)
    found = [Variant(normal, "normalised")] if normal != query else []
    bases = [normal]
    if (completed := resolved(normal, previous)) is not None:
        found.append(Variant(completed, "resolved against the previous query"))
        bases.append(completed)
    for base in bases:
        if definitions and (longer := expanded(base, definitions)) is not None:
            found.append(Variant(longer, "abbreviations expanded"))
    if hits and (extra := feedback_terms(normal, hits)):
        found.append(Variant(f"{normal} {' '.join(extra)}", "feedback from the top hits", rerank=False))
    unique = {variant.text: variant for variant in found if variant.text != query}
    return list(unique.values())


def fuse_rankings(rankings: Iterable[Sequence[SearchHit]], limit: int) -> list[SearchHit]:
    """Reciprocal-rank fusion (k = 60) of first-stage rankings, by path; the first ranking's hit
    (or the first found) represents a file; ``bm25_rank`` is renumbered by the fused order."""
    fused: dict[str, float] = {}
    best: dict[str, SearchHit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.path] = fused.get(hit.path, 0.0) + 1 / (_RRF_K + rank)
            best.setdefault(hit.path, hit)
    order = sorted(fused, key=lambda path: -fused[path])[:limit]
    return [_renumbered(best[path], rank, fused[path]) for rank, path in enumerate(order, start=1)]


def fuse_scores(scores: Sequence[float], how: str = "max") -> float:
    """One candidate's scores against the query and its variants, fused ("max" or "mean")."""
    return max(scores) if how == "max" else sum(scores) / len(scores)


def _renumbered(hit: SearchHit, rank: int, score: float) -> SearchHit:
    return SearchHit(hit.path, hit.passage, hit.passage_hash, rank, score, hit.score)


def _words(query: str) -> list[str]:
    """The content terms of ``query``: its runs of unspaced script whole, other words unless common."""
    normal = normalize(query)
    runs = UNSPACED_RUN.findall(normal)
    words = [word for word in re.findall(r"[\w.+#-]+", UNSPACED_RUN.sub(" ", normal))
             if word.lower() not in _COMMON]
    return list(dict.fromkeys(words + runs))


def _useful(term: str) -> bool:
    return (len(term) == 2 if is_gram(term) else len(term) >= 4 and not term.isdigit()) and term not in _COMMON
