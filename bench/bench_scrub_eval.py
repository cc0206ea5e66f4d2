"""scrub against a labelled free-text corpus: strict recall per entity, other words changed, texts/s.

    python bench/bench_scrub_eval.py --split dev                      # veil scrub and Presidio's defaults
    python bench/bench_scrub_eval.py --split dev --lang de,fr --limit 100 --systems veil
    python bench/bench_scrub_eval.py --split dev --show-misses 5      # examples of missed spans (dev only)
    python bench/bench_scrub_eval.py --split test --json /tmp/test.json
    python bench/bench_scrub_eval.py --split dev --params '{"min_score": 0.4}'   # extra scrub parameters

The corpus is ``bench/scrub_eval/corpus`` (synthetic, Faker values; see its README: tune on dev only).
Two systems run on the same texts in the same process:

- **veil**: the ``scrub`` operator as ``veil run`` applies it to a text column (``OPERATORS["scrub"]``
  with its defaults and the pipeline's span finder, batches of ``SCRUB_BATCH`` texts), ``nlp_model``
  auto (the [ner] extra's spaCy pipeline when installed). Every entity gets its placeholder.
- **presidio**: Presidio's defaults (its predefined recognizers and its default NLP configuration,
  ``conf/default.yaml``: entity mapping, ignored labels) with the same spaCy pipeline, loaded here
  with ``spacy.load`` (never a download), every result replaced by ``<ENTITY_TYPE>`` (overlapping
  results merged), language "en" for every text as its English-only default does.

Metrics (``scrub_eval/metrics.py`` defines them exactly): a span is **strictly removed** when its value
is gone from its place in the output and no word of it with 3+ characters or a digit is left there;
recall = removed / labelled spans, per label and language ("identifying" = every label; also without
ORGANIZATION, which scrub has no entity for). **Other words changed** = share of the words outside every
labelled span that are not in the output unchanged. **texts/s** = texts / median wall time of
``--repeat`` passes (the detectors are built and warmed first, not timed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from scrub_eval.generate import LANGS, load  # noqa: E402
from scrub_eval.metrics import score  # noqa: E402
from scrub_eval.slots import LABELS  # noqa: E402

SYSTEMS = ("veil", "presidio")


def veil_scrubber(extra: dict) -> tuple[Callable[[list[str]], list[str]], str]:
    import pyarrow as pa

    from veil.keys import Keyring
    from veil.ops import OPERATORS, OpContext
    from veil.ops.scrub import SCRUB_BATCH
    from veil.pipeline.transform import span_finder

    op = OPERATORS["scrub"]
    params = op.with_defaults({"nlp_model": "auto", **extra})
    ctx = OpContext(Keyring.for_testing(bytes(32)), "notes", params, "eval", "note", spans=span_finder)
    op.apply(pa.array(["warm up: Anna Schmidt, anna@example.org, Berlin"], pa.string()), ctx)

    def run(texts: list[str]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(texts), SCRUB_BATCH):
            out.extend(op.apply(pa.array(texts[i:i + SCRUB_BATCH], pa.string()), ctx).to_pylist())
        return out

    det = span_finder(params["nlp_model"])
    return run, f"scrub {json.dumps(extra, sort_keys=True)}, nlp_model {getattr(det, 'model', None)}"


def presidio_scrubber(model: str) -> tuple[Callable[[list[str]], list[str]], str]:
    import presidio_analyzer
    import spacy
    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

    from veil.detect.engine import _offline_tldextract

    _offline_tldextract()  # the email recognizer's suffix list: the bundled snapshot, no fetch
    conf = yaml.safe_load((Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml").read_text())
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}],
                            ner_model_configuration=NerModelConfiguration.from_dict(conf["ner_model_configuration"]))
    engine.nlp = {"en": spacy.load(model)}  # loaded here: Presidio's load() downloads a missing model
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])

    def one(text: str) -> str:
        results = sorted(analyzer.analyze(text=text, language="en"), key=lambda r: (r.start, -r.end))
        merged: list[list] = []  # [start, end, entity, score]
        for r in results:
            if merged and r.start < merged[-1][1]:
                m = merged[-1]
                m[1] = max(m[1], r.end)
                if r.score > m[3]:
                    m[2], m[3] = r.entity_type, r.score
            else:
                merged.append([r.start, r.end, r.entity_type, r.score])
        for start, end, entity, _ in reversed(merged):
            text = text[:start] + f"<{entity}>" + text[end:]
        return text

    one("warm up: Anna Schmidt, anna@example.org, Berlin")
    from importlib.metadata import version

    return (lambda texts: [one(t) for t in texts]), f"Presidio {version('presidio_analyzer')} defaults, {model}"


def timed(fn: Callable[[list[str]], list[str]], texts: list[str], repeat: int) -> tuple[list[str], float]:
    secs, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn(texts)
        secs.append(time.perf_counter() - t0)
        out = out or res
    return out, statistics.median(secs)


def tally(records: list[dict], outputs: list[str]) -> tuple[dict, dict, Counter, dict]:
    """(counts, misses, changed words, by genre): counts[lang] = {"labels": {label: [spans, removed]},
    "other": [words, changed]}; by genre: [spans, removed, other words, changed]."""
    counts: dict = {}
    misses: dict = {}
    changed: Counter = Counter()
    genres: dict[str, list[int]] = {}
    for rec, out in zip(records, outputs, strict=True):
        s = score(rec["text"], rec["spans"], out)
        g = genres.setdefault(rec["genre"], [0, 0, 0, 0])
        g[0] += len(s.spans)
        g[1] += sum(ok for _, ok, _ in s.spans)
        g[2] += s.other_words
        g[3] += s.other_changed
        c = counts.setdefault(rec["lang"], {"labels": {}, "other": [0, 0]})
        for span, (label, ok, where) in zip(rec["spans"], s.spans, strict=True):
            n = c["labels"].setdefault(label, [0, 0])
            n[0] += 1
            n[1] += ok
            if not ok:
                misses.setdefault(label, []).append((rec["id"], rec["text"][span["start"]:span["end"]], where))
        c["other"][0] += s.other_words
        c["other"][1] += s.other_changed
        changed.update(f"{rec['lang']}:{w}" for w in s.changed)
    return counts, misses, changed, genres


def summary(counts: dict) -> dict:
    """Per language and "all": recall per label, identifying recall (with and without ORG), other words."""
    out = {}
    groups = {**{lang: [lang] for lang in counts}, "all": list(counts)}
    for name, langs in groups.items():
        labels: dict[str, list[int]] = {}
        other = [0, 0]
        for lang in langs:
            for label, (n, k) in counts[lang]["labels"].items():
                t = labels.setdefault(label, [0, 0])
                t[0] += n
                t[1] += k
            other[0] += counts[lang]["other"][0]
            other[1] += counts[lang]["other"][1]
        ident = [sum(v[0] for v in labels.values()), sum(v[1] for v in labels.values())]
        no_org = [ident[0] - labels.get("ORGANIZATION", [0, 0])[0], ident[1] - labels.get("ORGANIZATION", [0, 0])[1]]
        out[name] = {
            "labels": {label: {"spans": n, "removed": k, "recall": k / n if n else None}
                       for label, (n, k) in sorted(labels.items(), key=lambda kv: LABELS.index(kv[0]))},
            "identifying": {"spans": ident[0], "removed": ident[1],
                            "recall": ident[1] / ident[0] if ident[0] else None},
            "identifying_without_org": {"spans": no_org[0], "removed": no_org[1],
                                        "recall": no_org[1] / no_org[0] if no_org[0] else None},
            "other_words": other[0], "other_changed": other[1],
            "other_changed_share": other[1] / other[0] if other[0] else None,
        }
    return out


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def print_table(results: dict, systems: list[str], langs: list[str]) -> None:
    cols = [*langs, "all"]
    head = ["label"] + [f"{c} {s}" for c in cols for s in systems]
    rows = []
    for label in [*LABELS, "identifying", "identifying_without_org", "other_changed_share"]:
        row = [label if label != "other_changed_share" else "other words changed"]
        for c in cols:
            for s in systems:
                d = results[s]["summary"][c]
                if label in LABELS:
                    v = d["labels"].get(label)
                    row.append(f"{pct(v['recall'])} ({v['spans']})" if v else "-")
                elif label == "other_changed_share":
                    row.append(pct(d[label]))
                else:
                    row.append(pct(d[label]["recall"]))
        rows.append(row)
    rows.append(["texts/s"] + [f"{results[s]['texts_per_s'][c]:.0f}" for c in cols for s in systems])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, ["-" * w for w in widths], *rows]:
        print(" | ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(r, widths, strict=True))))


def markdown(results: dict, systems: list[str], langs: list[str]) -> str:
    """The figures as a Markdown table, one cell per language holding every system's (a / b)."""
    cols = [*langs, "all"]

    def cell(fn) -> str:
        return " | ".join(" / ".join(fn(results[s], c) for s in systems) for c in cols)

    def label_recall(label):
        def get(r, c):
            v = r["summary"][c]["labels"].get(label)
            return pct(v["recall"]) if v else "-"
        return get

    lines = [f"| strict recall % ({' / '.join(systems)}) | " + " | ".join(cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for label in LABELS:
        lines.append(f"| {label} | " + cell(label_recall(label)) + " |")
    lines.append("| **identifying (all labels)** | " + cell(lambda r, c: pct(r["summary"][c]["identifying"]["recall"]))
                 + " |")
    lines.append("| without ORGANIZATION | "
                 + cell(lambda r, c: pct(r["summary"][c]["identifying_without_org"]["recall"])) + " |")
    lines.append("| **other words changed %** | "
                 + cell(lambda r, c: pct(r["summary"][c]["other_changed_share"])) + " |")
    lines.append("| texts/s | " + cell(lambda r, c: f"{r['texts_per_s'][c]:.0f}") + " |")
    return "\n".join(lines)


def commit() -> str:
    """The commit of the veil that is imported ("+dirty" with uncommitted changes), or its path."""
    import veil

    where = Path(veil.__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=where, capture_output=True,
                               text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return str(where)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("dev", "test", "novel"), required=True,
                    help="dev (tune here), test (report), novel (report: test templates, names in no list)")
    ap.add_argument("--lang", default=",".join(LANGS), help=f"comma-separated (default {','.join(LANGS)})")
    ap.add_argument("--limit", type=int, default=None, help="first N texts of each language")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="veil,presidio (default both)")
    ap.add_argument("--params", default="{}", help="extra scrub parameters, JSON (e.g. '{\"min_score\": 0.4}')")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per system and language (median)")
    ap.add_argument("--json", type=Path, default=None, help="write every figure to this file")
    ap.add_argument("--show-misses", type=int, default=0, metavar="N",
                    help="print N missed spans per label and system, and the 4N ordinary words changed most "
                         "often (dev split only)")
    ap.add_argument("--by-genre", action="store_true", help="also print recall and words changed per genre")
    ap.add_argument("--markdown", action="store_true", help="also print the table in Markdown (for a README)")
    args = ap.parse_args(argv)
    if args.show_misses and args.split != "dev":
        print("--show-misses: dev split only (never tune on test)", file=sys.stderr)
        return 2
    langs = args.lang.split(",")
    systems = args.systems.split(",")
    unknown = [x for x in langs if x not in LANGS] + [s for s in systems if s not in SYSTEMS]
    if unknown:
        print(f"unknown language or system: {', '.join(unknown)}", file=sys.stderr)
        return 2
    records = {lang: load(args.split, [lang])[:args.limit] for lang in langs}
    from veil.detect.engine import default_ner_model

    model = default_ner_model()
    builders = {"veil": lambda: veil_scrubber(json.loads(args.params)),
                "presidio": lambda: presidio_scrubber(model)}
    if "presidio" in systems and model is None:
        print("presidio needs a spaCy pipeline: pip install -e '.[ner]'", file=sys.stderr)
        return 2
    results: dict = {}
    for system in systems:
        t0 = time.perf_counter()
        fn, desc = builders[system]()
        print(f"{system}: {desc} (built in {time.perf_counter() - t0:.1f}s)", file=sys.stderr)
        counts, misses, rates, changed, genres = {}, {}, {}, Counter(), {}
        total_n, total_s = 0, 0.0
        for lang in langs:
            texts = [r["text"] for r in records[lang]]
            outputs, secs = timed(fn, texts, args.repeat)
            c, m, ch, gs = tally(records[lang], outputs)
            counts.update(c)
            changed.update(ch)
            for genre, v in gs.items():
                genres[genre] = [a + b for a, b in zip(genres.get(genre, [0, 0, 0, 0]), v, strict=True)]
            for label, items in m.items():
                misses.setdefault(label, []).extend(items)
            rates[lang] = len(texts) / secs
            total_n, total_s = total_n + len(texts), total_s + secs
            print(f"  {lang}: {len(texts)} texts, {rates[lang]:.0f} texts/s", file=sys.stderr)
        rates["all"] = total_n / total_s
        results[system] = {"description": desc, "summary": summary(counts), "texts_per_s": rates,
                           "by_genre": {g: {"spans": n, "removed": k, "recall": k / n if n else None,
                                            "other_words": w, "other_changed": x,
                                            "other_changed_share": x / w if w else None}
                                        for g, (n, k, w, x) in sorted(genres.items())}}
        if args.show_misses:
            print(f"\nmissed spans, {system} (dev; value -> what is left at its place):")
            for label in LABELS:
                for rid, value, where in misses.get(label, [])[:args.show_misses]:
                    print(f"  {label:13} {rid}: {value!r} -> {where.strip()!r}")
            print(f"ordinary words changed most often, {system} (dev; lang:word count):")
            print("  " + ", ".join(f"{w} {n}" for w, n in changed.most_common(4 * args.show_misses)))
    print(f"\nsplit {args.split}, {sum(map(len, records.values()))} texts, veil {commit()}, "
          f"{datetime.date.today()}; strict recall % (labelled spans), other words changed %, texts/s")
    print_table(results, systems, langs)
    if args.markdown:
        print("\n" + markdown(results, systems, langs))
    if args.by_genre:
        print("\nby genre (languages asked, every label): strict recall % / other words changed %")
        for system in systems:
            print(f"  {system}: " + ", ".join(f"{g} {pct(v['recall'])} / {pct(v['other_changed_share'])}"
                                             for g, v in results[system]["by_genre"].items()))
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "commit": commit(), "date": str(datetime.date.today()),
                                         "langs": langs, "limit": args.limit, "repeat": args.repeat,
                                         "systems": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
