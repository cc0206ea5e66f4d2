"""Detection: column-name rules plus Presidio (offline) -> findings, draft profiles, data maps.

Detection and transformation do not import each other: ``veil.ops`` never imports
this package's modules, and nothing here imports ``veil.ops`` or ``veil.profile``.
The planner (which sees both) hands an operator what it needs from detection
through this small API:

- :func:`span_finder` — the cached analyzer for a spaCy pipeline (``None``:
  pattern recognizers only); its ``spans(text, min_score)`` gives the
  non-overlapping :class:`Span` s to replace in a text, in order;
- :func:`default_nlp_model` — the installed pipeline used when none is named;
- :func:`nlp_model_installed` — whether a pipeline name can be loaded;
- :data:`SPAN_ENTITIES` — every entity name a span can carry (veil's names);
  :data:`NER_ENTITIES` — those only NER finds; ``MIXED`` marks merged spans of
  different kinds.

Scanning: ``veil.detect.scan.scan_dataset``; drafts: ``veil.detect.draft``.
"""

from __future__ import annotations

from .engine import MIXED, TEXT_ONLY_ENTITIES, Detector, Span, detector
from .engine import default_ner_model as default_nlp_model
from .engine import installed_model as nlp_model_installed
from .entities import FROM_PRESIDIO

__all__ = ["MIXED", "NER_ENTITIES", "SPAN_ENTITIES", "Span", "default_nlp_model", "nlp_model_installed",
           "span_finder"]

SPAN_ENTITIES: tuple[str, ...] = tuple(sorted(set(FROM_PRESIDIO.values()) | set(TEXT_ONLY_ENTITIES)))
NER_ENTITIES: tuple[str, ...] = ("PERSON_NAME", "LOCATION")


def span_finder(nlp_model: str | None) -> Detector:
    """The analyzer (built once per process) for ``nlp_model``, an installed spaCy pipeline's package
    name, or ``None`` for pattern recognizers only. A name that is not installed is a UsageError."""
    return detector(None, False) if nlp_model is None else detector(nlp_model, True)
