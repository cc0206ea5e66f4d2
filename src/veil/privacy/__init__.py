"""k-anonymity (and l-diversity) enforced by ``veil run`` for tables with ``privacy: {k: ...}``.

- :mod:`.hierarchy`: the built-in generalization hierarchies (dates, numbers, codes, categories);
- :mod:`.search`: counts per distinct quasi-identifier combination, the lattice search for the
  levels of least information loss, the classes to suppress;
- :mod:`.subjects`: k counted in people for tables about subjects, and a subject table's privacy
  taken by the tables about its subjects;
- :mod:`.enforce`: the run's first pass over the quasi-identifier columns, and the plan rewritten
  so the normal pass writes them generalized (operator ``k_anonymity``).

See docs/privacy.md.
"""
