"""The language of a free text, offline: py3langid (BSD-3-Clause, a maintained fork of langid.py).

Its model ships inside the wheel (a few MB, loaded once per process, about half a
second); a text is classified in about 50 µs. The candidates are limited to the
languages veil has word lists and cues for (:data:`LANGUAGES`), which makes short
texts far more reliable than choosing among 97 languages.

A text too short to tell (fewer than :data:`MIN_LETTERS` letters) or classified
with low confidence is :data:`DEFAULT` (English): the English rules are the most
conservative about ordinary words (NER, name lists and patterns still run).
"""

from __future__ import annotations

import re
from functools import cache

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")
DEFAULT = "en"
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.6

_LETTER = re.compile(r"[^\W\d_]", re.U)


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(LANGUAGES))
    return ident


def language(text: str) -> str:
    """ISO 639-1 code of ``text``'s language among :data:`LANGUAGES`, else :data:`DEFAULT`."""
    if len(_LETTER.findall(text[:2000])) < MIN_LETTERS:
        return DEFAULT
    lang, prob = _identifier().classify(text[:2000])
    return lang if prob >= MIN_CONFIDENCE else DEFAULT
