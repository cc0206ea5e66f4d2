"""The adversarial suite: malformed inputs, hostile paths, killed processes.

Run it alone with ``python -m pytest -m adversarial``; ``VEIL_FUZZ_EXAMPLES``
sets how many examples each fuzz test draws (see SECURITY.md).
"""
