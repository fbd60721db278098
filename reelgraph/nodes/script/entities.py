"""Named things in a scene (people, places, organisations, products) for visual prompts.

With a spaCy pipeline installed (`python -m spacy download en_core_web_sm`; never
downloaded here) its named-entity recogniser is used. Without one, a heuristic finds
runs of capitalised words that are not merely sentence starts ("European Space Agency",
"Ada Lovelace") and acronyms ("NASA"). Caseless scripts get none from the heuristic.
"""

from __future__ import annotations

import functools
import re
from typing import Any

_TOKEN = re.compile(r"[^\W\d_][\w'’-]*|[.!?;:,()\"“”]", re.UNICODE)
_CONNECT = {"of", "de", "del", "der", "von", "van", "da", "di", "la", "le", "du"}
# Calendar words are capitalised but show nothing; leave them out of visual prompts.
_CALENDAR = set(
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
)
_SPACY_KINDS = {"PERSON", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "FAC", "NORP"}


@functools.lru_cache(maxsize=8)
def _spacy_pipeline(language: str) -> Any:
    """An installed spaCy pipeline for the language, or None (spaCy or model absent)."""
    try:
        import spacy
        from spacy.util import get_installed_models
    except Exception:
        return None
    names = sorted(m for m in get_installed_models() if m.split("_")[0] in (language, "xx"))
    if not names:
        return None
    try:
        return spacy.load(names[0], disable=["parser", "lemmatizer", "tagger"])
    except Exception:
        return None


def entities(text: str, language: str = "en", top: int = 6) -> list[str]:
    """Distinct entity names in order of first mention, at most `top`."""
    nlp = _spacy_pipeline(language)
    if nlp is not None:
        found = [e.text for e in nlp(text[:100_000]).ents if e.label_ in _SPACY_KINDS]
    else:
        found = capitalised_phrases(text)
    out: list[str] = []
    for e in found:
        if e.lower() not in (o.lower() for o in out):
            out.append(e)
    return out[:top]


def capitalised_phrases(text: str) -> list[str]:
    """Runs of capitalised words (with 'of', 'de', ... inside) not at a sentence start,
    or at a sentence start when the same word is capitalised elsewhere too."""
    tokens = _TOKEN.findall(text)
    mid_caps = {
        t
        for i, t in enumerate(tokens)
        if i and t[:1].isupper() and tokens[i - 1] not in '.!?"“' and t[:1].isalpha()
    }
    out: list[str] = []
    run: list[str] = []

    def end_run() -> None:
        while run and run[-1].lower() in _CONNECT:
            run.pop()
        if run:
            name = " ".join(run).rstrip(".")
            if len(name) > 1 and name.lower() not in _CALENDAR:
                out.append(name)
        run.clear()

    for i, t in enumerate(tokens):
        start = i == 0 or tokens[i - 1] in '.!?"“:'
        caps = t[:1].isupper() and t[:1].isalpha()
        acronym = len(t) >= 2 and t.isupper() and t.isalpha()
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        two_names = start and nxt[:1].isupper() and nxt[:1].isalpha()  # "Ada Lovelace wrote"
        if (
            caps
            and (not start or t in mid_caps or acronym or two_names)
            and not (start and len(t) < 3)
        ) or (run and t.lower() in _CONNECT):
            run.append(t)
        else:
            end_run()
    end_run()
    return out
