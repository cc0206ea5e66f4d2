"""A scan's evidence is the same in every process (string hashing changes set order per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

_CODE = """
import json
from veil.detect.engine import detector
from veil.detect.scan import classify
vals = [f"see https://example.com/u{i} or mail u{i}@example.com today please" for i in range(30)]
print(json.dumps(classify("t", "body", "string", vals, detector(None, False))))
"""


def test_evidence_order_does_not_depend_on_hash_seed():
    outs = set()
    for seed in ("1", "3"):  # at the commit before the fix, these two gave the tied recognizers in two orders
        env = dict(os.environ, PYTHONHASHSEED=seed)
        res = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0, res.stderr
        outs.add(res.stdout)
    assert len(outs) == 1
    entity, _conf, evidence = json.loads(outs.pop())
    assert entity == "FREE_TEXT"
    # ties keep the order first seen, then by name
    assert list(evidence["recognizers"]) == ["free_text_shape", "EmailRecognizer", "UrlRecognizer"]
