"""scrub cost: distinct free-text notes per second, against a keep-only run of the same table.

    python bench/bench_scrub.py                    # 2,000 distinct notes, patterns only and NER
    python bench/bench_scrub.py --notes 500 --workers 4

Two measurements:

1. In process, warm: the scrub operator on N distinct notes (the detector is
   built first and not timed), patterns only (``nlp_model: none``) and with
   NER when a spaCy pipeline is installed. Prints ms per distinct text.
2. ``veil run`` (a subprocess, like a user runs it) on a CSV table of the
   same notes, with ``note: keep`` and with ``note: scrub``; the ratio is
   scrub/keep wall time, process start and detector build included.

Every note is distinct: scrub analyses each distinct text once per batch, so
repeated notes cost nothing more.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

FIRST = ["Ann", "Bob", "Chloé", "Jürgen", "Maria", "Peter", "Aiko", "Léa", "John", "Søren"]
LAST = ["Lee", "Stone", "Müller", "García", "Nowak", "Dubois", "Smith", "Rossi", "Jones", "O'Brien"]
TEMPLATES = [
    "Customer {email} called from {phone} about order {n}.",
    "{first} {last} asked for a refund; reply to {email}.",
    "Delivery failed twice, please check the address with the customer.",
    "Card ending {n} declined, customer will call back on {phone}.",
    "{first} {last} from Berlin wants to change the delivery date.",
    "Thanks for the quick help, everything works now.",
    "Forwarded to billing: IBAN DE89370400440532013000 given by {first}.",
    "Login from 10.0.{n3}.{n3} blocked, user {email} informed.",
]


def notes(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        f, la = rng.choice(FIRST), rng.choice(LAST)
        out.add(rng.choice(TEMPLATES).format(
            first=f, last=la, email=f"{f.lower()}.{la.lower()}{rng.randint(1, 9999)}@mail.example.org",
            phone=f"+49 30 {rng.randint(1000000, 9999999)}", n=rng.randint(1000, 9999), n3=rng.randint(1, 254))
            + f" (ref {len(out)})")
    return sorted(out)


def in_process(texts: list[str], nlp_model: str) -> float:
    from veil.keys import Keyring
    from veil.ops import OPERATORS, OpContext
    from veil.pipeline.transform import span_finder

    span_finder(nlp_model).spans("warm up ann@example.org", 0.3)  # build (and cache) the detector
    op = OPERATORS["scrub"]
    params = op.with_defaults({"nlp_model": nlp_model, "entities": {
        "EMAIL": {"op": "pseudonymize", "format": "email", "domain": "email"},
        "PHONE": {"op": "pseudonymize", "format": "digits", "domain": "phone"}}})
    ctx = OpContext(Keyring.for_testing(bytes(32)), "notes", params, "t", "note", spans=span_finder)
    t0 = time.perf_counter()
    op.apply(pa.array(texts, pa.string()), ctx)
    return time.perf_counter() - t0


PROFILE = """\
version: 1
tables:
  tickets:
    columns:
      ticket_id: keep
      note: {rule}
"""


def cli_run(src: Path, work: Path, rule: str, workers: int) -> float:
    profile = work / "profile.yaml"
    profile.write_text(PROFILE.format(rule=rule))
    out = work / "out"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "veil", "run", str(src), "--profile", str(profile), "--keyring",
                    str(work / "keys" / "k.json"), "--out", str(out / str(time.perf_counter_ns())), "-q",
                    "--workers", str(workers)], check=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notes", type=int, default=2000, help="distinct notes (default 2000)")
    ap.add_argument("--workers", type=int, default=1, help="veil run --workers (default 1)")
    args = ap.parse_args(argv)
    from veil.detect import default_nlp_model as default_ner_model

    texts = notes(args.notes)
    print(f"{len(texts)} distinct notes, {sum(map(len, texts)) / len(texts):.0f} characters on average")
    models = ["none"] + ([default_ner_model()] if default_ner_model() else [])
    for model in models:
        secs = in_process(texts, model)
        print(f"in process, nlp_model {model}: {len(texts) / secs:,.0f} texts/s, "
              f"{1000 * secs / len(texts):.2f} ms per distinct text")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "in"
        src.mkdir()
        pacsv.write_csv(pa.table({"ticket_id": [str(i) for i in range(len(texts))], "note": texts}),
                        src / "tickets.csv")
        subprocess.run([sys.executable, "-m", "veil", "keys", "init", str(work / "keys" / "k.json")], check=True,
                       capture_output=True)
        keep = cli_run(src, work, "keep", args.workers)
        print(f"veil run, note: keep: {keep:.2f}s")
        for model in models:
            rule = "{op: scrub, nlp_model: " + model + ", entities: {EMAIL: {op: pseudonymize, format: email}}}"
            secs = cli_run(src, work, rule, args.workers)
            print(f"veil run, note: scrub (nlp_model {model}): {secs:.2f}s, {len(texts) / secs:,.0f} texts/s, "
                  f"{secs / keep:.1f}x keep")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
