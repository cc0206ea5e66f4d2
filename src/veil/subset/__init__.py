"""Subsetting (issue 20): see docs/subset.md."""
