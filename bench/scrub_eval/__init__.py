"""A labelled multilingual free-text corpus for measuring scrub (issue 19), and its metrics.

``generate.py`` writes ``corpus/{dev,test}-{lang}.jsonl.gz`` from the templates in
``templates_*.py`` with Faker values; ``metrics.py`` scores a scrubbed text against its spans.
See README.md.
"""
