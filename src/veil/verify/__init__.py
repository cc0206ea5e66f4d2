"""``veil verify``: is a copy safe and useful? Leaks, re-identification risk, utility, integrity."""
