"""The scrub evaluation harness (bench/scrub_eval): corpus spans, split, and the metrics on hand-made cases."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from scrub_eval import generate, slots  # noqa: E402
from scrub_eval.metrics import place, removed, score, telling_words  # noqa: E402


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[dict]]:
    return {split: generate.load(split) for split in generate.SPLITS}


def test_every_span_is_its_value(corpus):
    for split, records in corpus.items():
        assert len(records) == sum(generate.SIZES.values()) // 2
        for r in records:
            assert r["split"] == split
            assert r["id"].startswith(f"{r['lang']}-{split}-")
            prev = 0
            for s in r["spans"]:
                assert s["label"] in slots.LABELS
                assert prev <= s["start"] < s["end"] <= len(r["text"])  # sorted, disjoint, inside
                value = r["text"][s["start"]:s["end"]]
                assert value == value.strip() and value
                prev = s["end"]


def test_no_slot_syntax_left(corpus):
    for records in corpus.values():
        assert not any(generate.SLOT.search(r["text"]) for r in records)


def test_committed_corpus_is_what_the_generator_writes(tmp_path):
    import subprocess

    import faker

    if faker.VERSION != generate.FAKER_VERSION:
        pytest.skip(f"the corpus was written with Faker {generate.FAKER_VERSION}, not {faker.VERSION}")

    subprocess.run([sys.executable, str(BENCH / "scrub_eval" / "generate.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    for path in sorted(generate.CORPUS.glob("*.jsonl.gz")):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_splits_disjoint_in_templates(corpus):
    dev = {r["template"] for r in corpus["dev"]}
    test = {r["template"] for r in corpus["test"]}
    assert dev and test and not dev & test
    assert {r["template"] for r in corpus["novel"]} == test
    assert not {r["text"] for r in corpus["novel"]} & {r["text"] for r in corpus["test"]}
    for lang in generate.LANGS:
        t = generate.templates(lang)
        assert not {x[2] for x in t["dev"]} & {x[2] for x in t["test"]}  # the texts differ, not only ids
        assert {x[1] for x in t["dev"]} == {x[1] for x in t["test"]}  # both halves have every genre


def test_every_language_and_label_is_present(corpus):
    for split, records in corpus.items():
        langs = {r["lang"] for r in records}
        assert langs == set(generate.LANGS)
        assert {s["label"] for r in records for s in r["spans"]} == set(slots.LABELS), split


def test_novel_names_are_in_no_faker_list(corpus):
    from scrub_eval.novel import faker_names

    names = faker_names()
    assert len(names) > 10000
    seen = 0
    for r in corpus["novel"]:
        for s in r["spans"]:
            value = r["text"][s["start"]:s["end"]]
            if s["label"] == "PERSON_NAME" and " " in value and "." not in value and "," not in value:
                first, last = value.split(" ", 1)
                assert first.casefold() not in names and last.casefold() not in names, r["id"]
                seen += 1
    assert seen > 1000


def test_card_numbers_are_luhn_valid_with_every_length(corpus):
    lengths = set()
    for records in corpus.values():
        for r in records:
            for s in r["spans"]:
                if s["label"] == "CREDIT_CARD":
                    digits = re.sub(r"\D", "", r["text"][s["start"]:s["end"]])
                    assert slots.luhn_complete(digits[:-1]) == digits
                    lengths.add(len(digits))
    assert set(range(12, 20)) <= lengths
    assert slots.luhn_complete("7992739871") == "79927398713"  # the textbook example


def test_de_tax_id_check_digit():
    import random

    from presidio_analyzer.predefined_recognizers import DeTaxIdRecognizer

    rec = DeTaxIdRecognizer(supported_language="en")
    for seed in range(20):
        tax_id = slots.de_tax_id(random.Random(seed))
        assert len(tax_id) == 11 and rec.validate_result(tax_id) is not False


TEXT = "Call Anna Schmidt at 12 Main Street, Apt. 4B, Springfield on Monday."
SPANS = [{"start": 5, "end": 17, "label": "PERSON_NAME"}, {"start": 21, "end": 35, "label": "LOCATION"},
         {"start": 37, "end": 44, "label": "LOCATION"}, {"start": 46, "end": 57, "label": "LOCATION"}]


def test_hand_made_spans():
    assert [TEXT[s["start"]:s["end"]] for s in SPANS] == ["Anna Schmidt", "12 Main Street", "Apt. 4B", "Springfield"]


def test_fully_replaced_name_and_untouched_words():
    out = "Call [PERSON_NAME] at [LOCATION], [LOCATION], [LOCATION] on Monday."
    s = score(TEXT, SPANS, out)
    assert [ok for _, ok, _ in s.spans] == [True, True, True, True]
    assert (s.other_words, s.other_changed) == (4, 0)  # Call, at, on, Monday


def test_half_replaced_address_is_a_miss():
    out = "Call [PERSON_NAME] at [LOCATION] Street, Apt. [LOCATION], [LOCATION] on Monday."
    s = score(TEXT, SPANS, out)
    assert [ok for _, ok, _ in s.spans] == [True, False, False, True]
    assert s.spans[1][2].strip() == "[LOCATION] Street"


def test_leftover_house_number_and_short_words():
    assert not removed("12 Main Street", "[LOCATION] 12")  # a digit word, however short
    assert removed("Rue de la Paix", "[LOCATION] de la")  # short words without a digit may stay
    assert not removed("Rue de la Paix", "[LOCATION] Paix")
    assert not removed("anna", " ANNA ")  # case does not hide a value
    assert telling_words("06 12 34 56 78") == {"06", "12", "34", "56", "78"}
    assert telling_words("Apt. 4B") == {"apt", "4b"}


def test_untouched_text_keeps_every_span_and_changes_no_word():
    s = score(TEXT, SPANS, TEXT)
    assert [ok for _, ok, _ in s.spans] == [False] * 4
    assert (s.other_words, s.other_changed) == (4, 0)


def test_changed_ordinary_word_is_counted():
    s = score(TEXT, SPANS, "[X] [PERSON_NAME] at [LOCATION], [LOCATION], [LOCATION] on [DATE].")
    assert (s.other_words, s.other_changed) == (4, 2)


def test_repeated_name_replaced_once():
    text = "Anna called. Later Anna wrote."
    spans = [{"start": 0, "end": 4, "label": "PERSON_NAME"}, {"start": 19, "end": 23, "label": "PERSON_NAME"}]
    s = score(text, spans, "[PERSON_NAME] called. Later Anna wrote.")
    assert [ok for _, ok, _ in s.spans] == [True, False]


def test_place_is_bounded_by_kept_neighbours():
    from scrub_eval.metrics import Tokens, alignment

    src, out = Tokens.of("from Anna to Bob ."), Tokens.of("from <PERSON> to Bob .")
    pair = alignment(src, out)
    assert place(src, out, pair, 5, 9) == " <PERSON> "
    assert place(src, out, pair, 13, 16) == " Bob "


def test_bench_end_to_end(tmp_path, capsys):
    """The evaluation on a few texts with scrub's pattern recognizers only: every email found, figures
    written for every language asked."""

    import bench_scrub_eval

    out = tmp_path / "r.json"
    assert bench_scrub_eval.main(["--split", "dev", "--lang", "en,de", "--limit", "8", "--repeat", "1",
                                  "--systems", "veil", "--params", '{"nlp_model": "none"}', "--json", str(out)]) == 0
    res = json.loads(out.read_text())["systems"]["veil"]
    assert set(res["summary"]) == {"en", "de", "all"}
    email = res["summary"]["all"]["labels"]["EMAIL"]
    assert email["spans"] > 0 and email["recall"] == 1.0
    assert res["summary"]["all"]["labels"]["PERSON_NAME"]["spans"] > 0
    assert res["texts_per_s"]["all"] > 0
    assert "strict recall" in capsys.readouterr().out


def test_misses_never_from_test_split():
    import bench_scrub_eval

    assert bench_scrub_eval.main(["--split", "test", "--show-misses", "3", "--systems", "veil"]) == 2


def _replaced(r: dict) -> str:
    text = r["text"]
    for s in reversed(r["spans"]):
        text = text[:s["start"]] + f"[{s['label']}]" + text[s["end"]:]
    return text


def test_whole_corpus_oracle_and_identity(corpus):
    """Every span replaced by its placeholder: all removed, no other word changed. The text unchanged:
    nothing removed, no word changed. (The alignment finds the place of every span in every text.)"""
    for records in corpus.values():
        for r in records:
            perfect = score(r["text"], r["spans"], _replaced(r))
            assert all(ok for _, ok, _ in perfect.spans) and perfect.other_changed == 0, r["id"]
            same = score(r["text"], r["spans"], r["text"])
            assert not any(ok for _, ok, _ in same.spans) and same.other_changed == 0, r["id"]
