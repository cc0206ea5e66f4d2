"""Issue 16 point 9: the whole path on two realistic schemas written here (tests/schemas/).

PostgreSQL "rental shop" and MariaDB "music store", dumped by the real pg_dump / mysqldump:
``veil scan -o draft`` -> ``veil validate`` -> ``veil run`` with the draft unchanged -> restore with
errors fatal -> every relation (declared and FK-less) joins with the source's cardinalities, the
application's INSERTs without explicit ids succeed, personal columns changed. The figures are
printed by ``python bench/real_schemas.py``. Also the regression tests of the fixes this path found.
"""

from __future__ import annotations

import os

import pytest

from veil.detect.draft import suggest
from veil.detect.findings import Finding
from veil.keys import init_keyring

from .schemas import all_schemas
from .schemas.harness import Outcome, run_path, unavailable

REQUIRE_DB = os.environ.get("VEIL_REQUIRE_DB") == "1"
# each schema as scanned by default (its tables sampled whole), and with --sample-rows 100: a big
# table's sample (its first rows of many) partial, as with the default 20,000 rows in production
PARTIAL = ("--sample-rows", "100")
SCHEMAS = {s.name: s for s in all_schemas()} | {f"{s.name}-partial": s for s in all_schemas()}
SCAN_FLAGS = {name: PARTIAL if name.endswith("-partial") else () for name in SCHEMAS}
_OUTCOMES: dict[str, Outcome] = {}


@pytest.fixture(scope="module")
def path_of(tmp_path_factory):
    """The whole path, run once per schema (on first use) and shared by the tests below."""
    def get(name: str) -> Outcome:
        schema = SCHEMAS[name]
        reason = unavailable(schema)
        if reason:
            if REQUIRE_DB:
                pytest.fail(f"{reason} (VEIL_REQUIRE_DB=1)")
            pytest.skip(reason)
        if name not in _OUTCOMES:
            work = tmp_path_factory.mktemp(name.replace("-", "_"))
            keyring = work / "keys" / "keyring.json"
            init_keyring(keyring)
            _OUTCOMES[name] = run_path(schema, work, keyring, workers=1, scan_flags=SCAN_FLAGS[name])
        return _OUTCOMES[name]

    return get


# Broken outside this test's reach, at the time of writing: the restore of these cases fails, so
# every measure after it fails too. strict: when it is fixed, these XPASS and the mark must go.
# (rental_pg's NOT NULL store.zip suppressed to null by k-anonymity: fixed, a placeholder there.)
BROKEN: dict = {}


def _marks(name: str) -> tuple:
    return (BROKEN[name],) if name in BROKEN else ()


def _names(names=None) -> list:
    return [pytest.param(n, marks=_marks(n), id=n) for n in (names or SCHEMAS)]


def _cases(attr: str):
    return [pytest.param(name, item, id=f"{name}-{getattr(item, 'name', item)}", marks=_marks(name))
            for name, schema in SCHEMAS.items() for item in getattr(schema, attr)]


def _reached(o: Outcome, step: str) -> None:
    """Stop a measure's test when the path broke earlier (that step's own test names the cause)."""
    order = ["scan", "run", "restore"]
    if o.failed_step is not None and order.index(o.failed_step) <= order.index(step):
        pytest.fail(f"the path stopped at {o.failed_step}: {o.run_err or o.restore_err}")


# -- the path, step by step --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMAS)
def test_scan_reads_the_declared_keys_and_infers_the_fkless_ones(path_of, name):
    """Precision and recall 1.0 against the relations written in the schema: every declared FK read
    (pg: the partitions' FKs lifted to the partitioned table), every FK-less one inferred, nothing else."""
    o, schema = path_of(name), SCHEMAS[name]
    assert o.scan_rc == 0, o.run_err
    tables = schema.data()
    assert (o.tables, o.columns) == (len(tables), sum(len(cols) for cols, _ in tables.values()) + len(schema.generated))
    assert o.declared == schema.declared
    assert o.inferred == schema.undeclared


@pytest.mark.parametrize("name", SCHEMAS)
def test_validate_accepts_the_draft(path_of, name):
    o = path_of(name)
    _reached(o, "scan")
    assert o.validate_rc == 0, o.validate_out
    assert o.strict_rc == 0, o.strict_out  # not even a warning (a kept column inside a pseudonymized key...)


@pytest.mark.parametrize("name", _names())
def test_run_with_the_draft_unchanged_restores_with_errors_fatal(path_of, name):
    o = path_of(name)
    _reached(o, "scan")
    assert o.run_rc == 0, o.run_err
    assert o.restore_ok, o.restore_err


@pytest.mark.parametrize(("name", "rel"), _cases("relations"))
def test_every_relation_joins_as_in_the_source(path_of, name, rel):
    """(joined rows, orphans, children-per-parent distribution) equal to the source's, for declared and
    FK-less relations alike."""
    o = path_of(name)
    _reached(o, "restore")
    src, dst = o.joins_src[rel.name], o.joins_dst[rel.name]
    assert src[0] > 0 and src[1] == 0  # the source itself joins (the test data is what it says)
    assert dst == src


@pytest.mark.parametrize("name", _names())
def test_pseudonymized_keys_no_longer_hold_the_source_ids(path_of, name):
    o = path_of(name)
    _reached(o, "restore")
    assert o.keys_changed, "the draft pseudonymizes no key"
    assert [t for t, changed in o.keys_changed.items() if not changed] == []


@pytest.mark.parametrize(("name", "table"), [pytest.param(n, t, id=f"{n}-{t}", marks=_marks(n))
                                             for n, s in SCHEMAS.items() for t in s.inserts])
def test_the_application_inserts_without_explicit_ids(path_of, name, table):
    """The next id of every sequence / AUTO_INCREMENT stands above the restored (pseudonymized) ids."""
    o = path_of(name)
    _reached(o, "restore")
    ok, error = o.inserts[table]
    assert ok, error


@pytest.mark.parametrize(("name", "sens"), _cases("sensitive"))
def test_personal_columns_changed(path_of, name, sens):
    o = path_of(name)
    _reached(o, "restore")
    share, count = o.sensitive[sens.name]
    assert count > 0, "no value came out"
    assert share <= sens.max_share, f"{share:.1%} of the distinct output values are source values"


@pytest.mark.parametrize("name", _names([n for n, s in SCHEMAS.items() if s.notes]))
def test_notes_hold_no_source_email_or_phone(path_of, name):
    o = path_of(name)
    _reached(o, "restore")
    assert o.notes_leaks and all(v == 0 for v in o.notes_leaks.values()), o.notes_leaks

# -- regressions found by the path ---------------------------------------------------------------


def test_draft_keeps_a_narrow_country_code_key():
    """shop.country.country_code char(2) is a COUNTRY (by name and values), not NONE: the draft gave it
    pseudonymize, whose 16-character token fits no char(2), and validate refused the draft (and the
    customer/store FKs inheriting it). A narrow key whose entity is kept anyway is kept."""
    def rule(entity: str, length: int | None) -> dict:
        f = Finding("shop.country", "country_code", "string", entity, "quasi", 0.85, {"text_length": length},
                    "primary")
        return suggest(f, "shop.country", {})

    assert rule("COUNTRY", 2) == {"op": "keep"}
    assert rule("NONE", 2) == {"op": "keep"}
    assert rule("COUNTRY", 64)["op"] == "pseudonymize"  # wide enough for a token: a key is pseudonymized
    assert rule("EMAIL", 12)["op"] == "pseudonymize"  # a direct identifier is never kept for its width


def test_draft_phone_in_a_narrow_column_keeps_its_length():
    """shop.staff.phone varchar(12): the draft's fake phone_number writes up to 15 characters and
    validate refused it. A phone column declared narrower gets pseudonymize format: digits (each
    value keeps its length and separators); a wide or undeclared one keeps the fake."""
    def rule(length: int | None) -> dict:
        f = Finding("shop.staff", "phone", "string", "PHONE", "direct", 0.99, {"text_length": length})
        return suggest(f, "shop.staff", {})

    assert rule(12) == {"op": "pseudonymize", "format": "digits", "domain": "phone_digits"}
    assert rule(15) == rule(None) == {"op": "fake", "kind": "phone_number", "domain": "phone"}


def test_draft_knows_the_longest_fake():
    """The draft's copy of fake's longest outputs (detection does not import the operators) is fake's."""
    from veil.detect.draft import FAKE_LONGEST
    from veil.ops.fake import max_length

    for kind, longest in FAKE_LONGEST.items():
        assert max_length(kind, "en_US", "example.com") == longest


def _write_csv(path, header: list[str], rows) -> None:
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_an_fkless_relation_is_inferred_from_a_partial_key_sample(tmp_path):
    """music_my scanned with --sample-rows 100 (as a big table is: 20,000 rows of millions):
    track.composer_artist_id -> artist.artist_id was not inferred. The sample holds the key's first
    ids, the references spread over all of them, so only ~a third of the sampled references were
    among the sampled ids (under the 50% a partial key allows); the run then broke the join. Inside
    the span of the key's sample the references are all key values: that is what is measured now.
    A column whose values inside the span are not key values is still no foreign key."""
    import numpy as np

    from veil.detect.scan import scan_dataset
    from veil.formats import open_dataset

    rng = np.random.default_rng(7)
    d = tmp_path / "in"
    d.mkdir()
    _write_csv(d / "artist.csv", ["artist_id", "label"], [(2 * i, f"a{i}") for i in range(1, 3001)])  # even ids
    _write_csv(d / "track.csv", ["track_id", "composer_artist_id", "remix_artist_id"],
               [(i, 2 * int(rng.integers(1, 3001)), 2 * int(rng.integers(1, 3001)) - 1) for i in range(1, 5001)])
    result = scan_dataset(open_dataset(d), sample_rows=500, use_presidio=False)
    fks = {(t.name, fk["columns"][0], fk["references"]["table"]) for t in result.tables for fk in t.foreign_keys}
    assert ("track", "composer_artist_id", "artist") in fks
    assert ("track", "remix_artist_id", "artist") not in fks  # odd numbers: inside the span, never an id


def test_json_stored_as_text_is_searched_inside(tmp_path):
    """music_my.customer.preferences is JSON: MariaDB stores it as LONGTEXT with a json_valid CHECK,
    so its declared type said text, no whole value is an email, and the draft kept it, with an email
    in 70% of its documents. A text column whose sampled values are all JSON objects or arrays is
    searched inside, as a json column: FREE_TEXT, scrubbed. Plain JSON settings stay NONE."""
    from veil.detect.coltypes import holds_json
    from veil.detect.scan import scan_dataset
    from veil.formats import open_dataset

    assert holds_json(['{"a": 1}', " [1, 2] "]) and not holds_json(['{"a": 1}', "{not json}"])
    assert not holds_json(["plain", '{"a": 1}']) and not holds_json([]) and not holds_json(["1", '"x"'])
    d = tmp_path / "in"
    d.mkdir()
    _write_csv(d / "customer.csv", ["customer_id", "preferences", "settings"],
               [(i, f'{{"lang": "de", "newsletter": true, "invoice_email": "kunde{i}@beispiel.de"}}',
                 f'{{"theme": "dark", "page_size": {10 * (i % 5 + 1)}}}') for i in range(1, 201)])
    found = {f.column: f for f in scan_dataset(open_dataset(d), use_presidio=True, use_ner=False).findings}
    assert (found["preferences"].type, found["preferences"].entity) == ("json", "FREE_TEXT")
    assert (found["settings"].type, found["settings"].entity) == ("json", "NONE")


def test_a_key_range_at_the_top_of_its_type_leaves_room_for_the_next_ids():
    """200 countries in a TINYINT UNSIGNED key: the draft's range was [1, 255], the permuted ids
    reached 255, AUTO_INCREMENT went on from there and the application's next INSERT failed ('Out of
    range value'); likewise 20,000 rows of a smallint key, [1, 32767] (nextval reached the sequence's
    maximum). Now half of the ids the source still had free stay free."""
    from veil.detect.draft import key_range

    assert key_range(1, 200, 200, 200, 8) == [1, 220]  # 35 ids left for the application
    assert key_range(1, 20000, 20000, 20000, 15) == [1, 26000]
    assert key_range(1, 60, 60, 60, 8) == [1, 200]  # below the top: as before
    for n, bits in ((130, 8), (200, 8), (240, 8), (9000, 15), (30000, 15), (5_000_000, 23)):
        lo, hi = key_range(1, n, n, n, bits)
        assert n <= hi < (1 << bits) - 1, (n, bits, hi)  # every id fits, and the top stays free


def test_a_reference_to_a_big_table_is_inferred_from_a_small_sample(tmp_path):
    """music_my scanned with --sample-rows 100 lost listening_log.track_id -> track.track_id (3,500
    tracks, 100 sampled): of ~100 sampled references only ~3 fell inside the sampled ids, too few to
    measure, and the run broke the join. A column named like the key whose values all lie inside the
    ids the whole table likely holds (the sampled span, extrapolated by the row count) is taken, with
    that evidence in the draft; one named like the key but holding other numbers is not."""
    import numpy as np

    from veil.detect.scan import scan_dataset
    from veil.formats import open_dataset

    rng = np.random.default_rng(11)
    d = tmp_path / "in"
    d.mkdir()
    _write_csv(d / "track.csv", ["track_id", "title"], [(i, f"t{i}") for i in range(1, 3001)])
    _write_csv(d / "listening_log.csv", ["log_id", "track_id", "spotify_track_id"],
               [(i, int(rng.integers(1, 3001)), int(rng.integers(10**9, 2 * 10**9))) for i in range(1, 2001)])
    result = scan_dataset(open_dataset(d), sample_rows=50, use_presidio=False)
    fks = {fk["columns"][0]: fk for t in result.tables for fk in t.foreign_keys}
    assert fks["track_id"]["references"] == {"table": "track", "columns": ["track_id"]}
    assert fks["track_id"].get("within_range") is True
    assert "spotify_track_id" not in fks  # named like the key, but far above its ids


def test_a_unique_column_gets_an_injective_rule(tmp_path):
    """shop.staff.username varchar(16) UNIQUE, music_my customer.phone UNIQUE: the draft faked them,
    and run refused its own draft (exit 3: 'a key column; operator fake is not injective'), since
    fakes collide and would break the constraint on restore. The scan reads the DDL's UNIQUE
    constraints (key 'unique') and the draft pseudonymizes such columns; an email keeps its
    email-shaped pseudonym and a unique code that no token fits is kept."""
    from veil.detect.scan import scan_dataset
    from veil.formats import open_dataset

    dump = tmp_path / "d.sql"
    dump.write_text("CREATE TABLE public.member (member_id integer NOT NULL, username character varying(16) NOT NULL,"
                    " nick text);\nCOPY public.member (member_id, username, nick) FROM stdin;\n"
                    + "".join(f"{i}\tuser_{i}\tn{i}\n" for i in range(1, 40)) + "\\.\n\n"
                    "ALTER TABLE ONLY public.member ADD CONSTRAINT member_pkey PRIMARY KEY (member_id);\n"
                    "ALTER TABLE ONLY public.member ADD CONSTRAINT member_username_key UNIQUE (username);\n")
    keys = {f.column: f.key for f in scan_dataset(open_dataset(dump), use_presidio=False).findings}
    assert keys == {"member_id": "primary", "username": "unique", "nick": None}

    def rule(entity: str, length: int | None, key: str | None = "unique") -> dict:
        f = Finding("t", "c", "string", entity, "direct", 0.9, {"text_length": length}, key)
        return suggest(f, "t", {})

    assert rule("USERNAME", 40) == {"op": "pseudonymize", "domain": "t.c"}
    assert rule("USERNAME", 16) == {"op": "pseudonymize", "domain": "username"}  # the narrow rule: injective
    assert rule("PHONE", 16) == {"op": "pseudonymize", "domain": "t.c"}
    assert rule("EMAIL", 80) == {"op": "pseudonymize", "format": "email", "domain": "email"}
    assert rule("NONE", 2) == {"op": "keep"}
    assert rule("USERNAME", 40, None) == {"op": "fake", "kind": "username", "domain": "username"}  # not unique


def test_a_unique_index_is_a_unique_key(tmp_path):
    """Rails-style schemas declare uniqueness with CREATE UNIQUE INDEX, not a constraint: the dump
    reader did not read it, the draft faked a unique phone and username, validate and run passed, and
    the restore failed ('could not create unique index': the fakes collided; 20,000 members). A
    unique index on plain columns is a unique key (ON ONLY, several columns, DESC); one on an
    expression (lower(email)) is not a key of the column."""
    from veil.detect.scan import scan_dataset
    from veil.formats import open_dataset

    dump = tmp_path / "d.sql"
    dump.write_text(
        "CREATE TABLE public.member (member_id integer NOT NULL, phone character varying(16), username text,"
        " email text, nick text);\nCOPY public.member (member_id, phone, username, email, nick) FROM stdin;\n"
        + "".join(f"{i}\t+4930{i:07d}\tu{i}\tm{i}@example.com\tn{i}\n" for i in range(1, 40)) + "\\.\n\n"
        "--\n-- Name: member_phone_idx; Type: INDEX; Schema: public; Owner: -\n--\n\n"
        "CREATE UNIQUE INDEX member_phone_idx ON public.member USING btree (phone);\n\n"
        "CREATE UNIQUE INDEX member_login ON ONLY public.member USING btree (username DESC, member_id);\n\n"
        "CREATE UNIQUE INDEX member_email_lower ON public.member USING btree (lower(email));\n\n"
        "CREATE INDEX member_nick ON public.member USING btree (nick);\n")
    dataset = open_dataset(dump)
    assert dataset.dump.tables["public.member"].unique == [["phone"], ["username", "member_id"]]
    keys = {f.column: f.key for f in scan_dataset(dataset, use_presidio=False).findings}
    assert keys == {"member_id": "unique", "phone": "unique", "username": "unique", "email": None, "nick": None}


def test_draft_username_in_a_narrow_column_fits():
    """music_my employee.username VARCHAR(16) (as Sakila's staff.username, not unique): the draft's fake
    username writes up to 25 characters and validate refused it. A narrower column gets pseudonymize
    (a 16-character token) in the username domain."""
    def rule(length: int | None) -> dict:
        f = Finding("employee", "username", "string", "USERNAME", "direct", 0.85, {"text_length": length})
        return suggest(f, "employee", {})

    assert rule(16) == {"op": "pseudonymize", "domain": "username"}
    assert rule(25) == rule(None) == {"op": "fake", "kind": "username", "domain": "username"}
