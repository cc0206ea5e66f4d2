"""Two hand-written realistic schemas for the end-to-end test of issue 16 point 9.

``rental_pg`` (PostgreSQL "rental shop") and ``music_my`` (MariaDB/MySQL "music store"): DDL,
seeded data generators, the relations a reviewer knows (declared and FK-less), the application's
INSERTs without explicit ids, and the personal columns. ``harness`` runs the whole path on them
(create, dump, scan, validate, run with the draft unchanged, restore with errors fatal, compare);
tests/test_real_schemas.py asserts on it and bench/real_schemas.py prints the figures.
"""

from __future__ import annotations

from .common import RealSchema, Relation, Sensitive  # noqa: F401


def all_schemas() -> list[RealSchema]:
    from . import music_my, rental_pg

    return [rental_pg.schema(), music_my.schema()]
