"""Write the labelled free-text corpus: ``python bench/scrub_eval/generate.py [--out DIR]``.

Every text is a template of ``templates_<lang>.py`` filled with Faker values (``slots.py``) and
records the exact character span and label of every personal value in it::

    {"id": "en-dev-00042", "lang": "en", "genre": "email", "template": "en-email-3", "split": "dev",
     "text": "...", "spans": [{"start": 11, "end": 23, "label": "PERSON_NAME"}, ...]}

Deterministic: text ``i`` of (lang, split) is filled from ``random.Random("lang/split/i")`` (and
Faker seeded from it), so the same code writes byte-identical files. The split is by template AND by
seed: dev texts come from the templates listed in ``DEV`` and test texts from those in ``TEST`` (never
both), with seeds that differ by split. The ``novel`` split is the test templates again with seeds of
its own and persons, cities, streets and companies that are in no list (``novel.py``). The script
runs itself with PYTHONHASHSEED=0 (a few Faker providers draw from sets). Files:
``corpus/<split>-<lang>.jsonl.gz`` (gzip, mtime 0).
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import io
import json
import os
import random
import re
import sys
import textwrap
from pathlib import Path

if __package__ in (None, ""):  # run as a script: bench/ on the path, like the benchmarks
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scrub_eval import slots  # noqa: E402

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
LANGS = ("en", "de", "fr", "es", "it")
SIZES = {"en": 1500, "de": 500, "fr": 500, "es": 500, "it": 500}  # texts per language, half per split
SPLITS = ("dev", "test", "novel")  # novel: the test templates, other seeds, names in no list (novel.py)
SLOT = re.compile(r"\{([a-z][a-z0-9_]*(?:\.[a-z_]+)?)(?:\|(lower|upper|title))?\}")
GENRES = ("note", "ticket", "email", "chat", "list")
FAKER_VERSION = "40.63.0"  # the committed corpus was written with this Faker (another may draw other values)


def templates(lang: str) -> dict[str, list[tuple[str, str, str]]]:
    """split -> [(template id, genre, template text)] of a language (ids: lang-genre-number)."""
    mod = importlib.import_module(f"scrub_eval.templates_{lang}")
    out: dict[str, list[tuple[str, str, str]]] = {}
    counter: dict[str, int] = {}
    for split in ("dev", "test"):
        rows = []
        for genre, text in getattr(mod, split.upper()):
            if genre not in GENRES:
                raise ValueError(f"templates_{lang}: unknown genre {genre}")
            counter[genre] = counter.get(genre, 0) + 1
            rows.append((f"{lang}-{genre}-{counter[genre]}", genre, textwrap.dedent(text).strip("\n")))
        out[split] = rows
    out["novel"] = out["test"]
    return out


def _written(value: str, mod: str | None) -> str:
    if mod == "lower":
        return value.lower()
    if mod == "upper":
        return value.upper()
    if mod == "title":
        return value.title()
    return value


def render(template: str, lang: str, seed: int, novel: bool = False) -> tuple[str, list[dict]]:
    """(text, spans) of a template filled with the values of ``seed``."""
    values = slots.Values(lang, seed, novel)
    rng = random.Random(seed ^ 0x5EED)
    fillers: dict[str, str] = {}
    parts: list[str] = []
    spans: list[dict] = []
    pos = 0
    length = 0
    for m in SLOT.finditer(template):
        literal = template[pos:m.start()]
        parts.append(literal)
        length += len(literal)
        key, mod = m.group(1), m.group(2)
        label = slots.label_of(key)
        if label is None:
            value = fillers.setdefault(key, slots.filler(key, lang, rng))
        else:
            value = values.get(key)
        value = _written(value, mod)
        if label is not None:
            spans.append({"start": length, "end": length + len(value), "label": label})
        parts.append(value)
        length += len(value)
        pos = m.end()
    parts.append(template[pos:])
    return "".join(parts), spans


def seed_of(lang: str, split: str, i: int) -> int:
    return random.Random(f"{lang}/{split}/{i}").getrandbits(48)


def generate(lang: str, split: str, count: int) -> list[dict]:
    rows = templates(lang)[split]
    out = []
    for i in range(count):
        tid, genre, template = rows[i % len(rows)]
        text, spans = render(template, lang, seed_of(lang, split, i), novel=split == "novel")
        out.append({"id": f"{lang}-{split}-{i:05d}", "lang": lang, "genre": genre, "template": tid,
                    "split": split, "text": text, "spans": spans})
    return out


def write(path: Path, records: list[dict]) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        for r in records:
            gz.write((json.dumps(r, ensure_ascii=False) + "\n").encode())
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def load(split: str, langs: tuple[str, ...] | list[str] = LANGS, corpus: Path = CORPUS) -> list[dict]:
    """The committed corpus texts of a split, for the given languages."""
    out = []
    for lang in langs:
        path = corpus / f"{split}-{lang}.jsonl.gz"
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            out.extend(json.loads(line) for line in fh)
    return out


def main(argv: list[str] | None = None) -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # some Faker providers draw from sets (cities of a few locales): their order follows string hashing
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, str(Path(__file__).resolve()), *(sys.argv[1:] if argv is None
                                                                                     else argv)])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=CORPUS)
    ap.add_argument("--lang", default=",".join(LANGS), help="comma-separated languages")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for lang in args.lang.split(","):
        for split in SPLITS:
            records = generate(lang, split, SIZES[lang] // 2)
            write(args.out / f"{split}-{lang}.jsonl.gz", records)
            n_spans = sum(len(r["spans"]) for r in records)
            print(f"{lang} {split}: {len(records)} texts, {n_spans} spans, "
                  f"{len(templates(lang)[split])} templates")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
