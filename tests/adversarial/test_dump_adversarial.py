"""Adversarial SQL dumps: quoted identifiers of every odd character, every data-carrying statement
form, and a fuzz run over the dump lexer.

Every value holds a marker (harness.marker). A run must either succeed with no marker in
anything it wrote, or refuse with exit 5: no traceback, no marker in stdout/stderr, no output
created, the previous output untouched. The lexer fuzz checks that the scanner's pieces put
back together are the input byte for byte, or that it refuses with an InputError; any other
exception fails. Budget: VEIL_FUZZ_EXAMPLES (docs/formats/postgresql.md#adversarial-tests).
"""

from __future__ import annotations

import io
import json
import signal
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.errors import InputError
from veil.formats.dump.classify import tokenize
from veil.formats.dump.lexer import MYSQL, PG, CopyData, Scanner
from veil.keys import init_keyring

from .harness import FUZZ, assert_clean_failure, assert_no_marker, invoke, marker, snapshot

pytestmark = pytest.mark.adversarial

TALLY: Counter = Counter()  # (category, outcome) -> count, printed at the end of the module


@pytest.fixture(scope="module", autouse=True)
def _tally():
    yield
    cats = sorted({c for c, _ in TALLY})
    lines = [f"{c}: {sum(TALLY[(c, o)] for o in ('ok', 'refused', 'failed'))} attempts, "
             f"{TALLY[(c, 'ok')]} rewritten, {TALLY[(c, 'refused')]} refused cleanly, "
             f"{TALLY[(c, 'failed')]} failures" for c in cats]
    print("\n[dump adversarial] " + "\n[dump adversarial] ".join(lines))


@pytest.fixture(scope="module")
def keyring(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("advkeys") / "keyring.json"
    init_keyring(path)
    return path


# -- identifiers of every odd character ----------------------------------------------------------

PIECES = [";", '"', "'", "\\", "`", "$", "$$", "$a$", "--", "/*", "*/", "(", ")", ",", ".", " ", "\t", "\n",
          "ü", "€", "😀", "FROM stdin;", "\\.", "E'", "#", "\r", "%", "_", "INSERT", "VALUES ("]
odd_ident = st.lists(st.sampled_from(PIECES) | st.text("abcXYZ_019", min_size=1, max_size=3),
                     min_size=1, max_size=6).map("".join).filter(lambda s: s.strip() != "" and len(s) < 60)

PG_HEAD = "--\n-- PostgreSQL database dump\n--\nSET standard_conforming_strings = on;\n"
MY_HEAD = "-- MySQL dump 10.19\n/*!40101 SET NAMES utf8mb4 */;\n"


def _pg(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _my(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _check(tmp: Path, keyring: Path, dump: str, profile: dict, markers: list[str], category: str) -> None:
    """Run veil on a dump: exit 0 and no marker anywhere, or a clean refusal with the previous output
    untouched."""
    (tmp / "in").mkdir()
    (tmp / "out").mkdir()
    src = tmp / "in" / "in.sql"
    src.write_bytes(dump.encode("utf-8", "surrogateescape"))
    prof = tmp / "in" / "p.yaml"
    prof.write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")  # PyYAML reads no \\ud83d pairs
    out = tmp / "out" / "out.sql"
    out.write_text("-- a previous good output\n")
    before = {out: snapshot(out)}
    res = invoke("run", src, "-p", prof, "--keyring", keyring, "--out", out, "-q", "--workers", "1", "--force")
    try:
        if res.exit_code == 0:
            assert_no_marker(markers, res.stdout, res.stderr, out)
            TALLY[(category, "ok")] += 1
        else:
            assert_clean_failure(res, codes=(5,), markers=markers, paths=[tmp / "out"], unchanged=before,
                                 out=out)
            TALLY[(category, "refused")] += 1
    except AssertionError:
        TALLY[(category, "failed")] += 1
        raise


@FUZZ
@given(schema=odd_ident, table=odd_ident, column=odd_ident, form=st.sampled_from(["copy", "insert"]))
def test_pg_odd_identifiers(keyring, schema, table, column, form):
    if "\x00" in schema + table + column or column == "id":
        return
    m = [marker(1), marker(2)]
    qt = f"{_pg(schema)}.{_pg(table)}"
    if form == "copy":
        data = f"COPY {qt} (id, {_pg(column)}) FROM stdin;\n1\t{m[0]}@x.org\n2\t{m[1]}@x.org\n\\.\n"
    else:
        data = f"INSERT INTO {qt} (id, {_pg(column)}) VALUES (1, '{m[0]}@x.org'), (2, '{m[1]}@x.org');\n"
    dump = PG_HEAD + f"CREATE TABLE {qt} (\n    id integer,\n    {_pg(column)} text\n);\n" + data
    profile = {"version": 1, "tables": {f"{schema}.{table}": {"columns": {
        "id": "keep", column: {"op": "pseudonymize", "format": "email"}}}}}
    with tempfile.TemporaryDirectory() as tmp:
        _check(Path(tmp), keyring, dump, profile, m, "pg odd identifiers")


@FUZZ
@given(table=odd_ident, column=odd_ident)
def test_mysql_odd_identifiers(keyring, table, column):
    if "\x00" in table + column or column.lower() == "id" or column != column.strip() or table != table.strip():
        return  # MySQL trims trailing spaces from names and compares them case-insensitively
    m = [marker(3), marker(4)]
    dump = (MY_HEAD + f"CREATE TABLE {_my(table)} (\n  `id` int(11) NOT NULL,\n  {_my(column)} varchar(99)\n);\n"
            f"INSERT INTO {_my(table)} VALUES (1,'{m[0]}@x.org'),(2,'{m[1]}@x.org');\n")
    profile = {"version": 1, "tables": {table: {"columns": {
        "id": "keep", column: {"op": "pseudonymize", "format": "email"}}}}}
    with tempfile.TemporaryDirectory() as tmp:
        _check(Path(tmp), keyring, dump, profile, m, "mysql odd identifiers")


# -- every data-carrying statement form ------------------------------------------------------------

PG_FORMS = [
    "COPY {t} (id, email) FROM stdin;\n7\t{m}@x.org\n\\.\n",
    "INSERT INTO {t} VALUES (7, '{m}@x.org');\n",
    "INSERT INTO {t} (id, email) VALUES (7, E'{m}\\\\x');\n",
    "UPDATE {t} SET email = '{m}@x.org' WHERE id = 7;\n",
    "UPDATE ONLY {t} SET email = $q${m}$q$;\n",
    "MERGE INTO {t} USING (SELECT 1) s ON true WHEN NOT MATCHED THEN INSERT VALUES (7, '{m}');\n",
    "INSERT INTO {t} (id, email) SELECT 7, '{m}@x.org';\n",
    "INSERT INTO {t} VALUES (7, 'a') ON CONFLICT (id) DO UPDATE SET email = '{m}';\n",
    "COPY {t} (id, email) FROM stdin WITH (FORMAT csv);\n7,{m}@x.org\n\\.\n",
    "COPY {t} FROM STDIN (FORMAT binary);\n7\t{m}\n\\.\n",
    "DO $$BEGIN INSERT INTO t VALUES (7, '{m}'); END$$;\n",
    "CREATE TABLE public.cp AS SELECT '{m}' AS email;\n",
    "WITH s AS (SELECT 1) UPDATE {t} SET email = '{m}';\n",
    "SELECT pg_catalog.lowrite(0, '\\x{h}');\n",
    "SELECT public.f('{m}');\n",
    "CALL public.p('{m}');\n",
    "DELETE FROM {t} WHERE email = '{m}';\n",
    "/* /* */ ' */ UPDATE {t} SET email='{m}'; -- '\n",
    "SET a.b = 1; /* x */\nUPDATE {t} SET email='{m}';\n",
    "\\copy {t} from stdin\n7\t{m}\n\\.\n",
    "SELECT 1\n;\n7\t{m}\n\\.\n",
    "{m};\n",
    "'{m}';\n",
]
MY_FORMS = [
    "INSERT INTO {t} VALUES (7,'{m}@x.org');\n",
    "REPLACE INTO {t} VALUES (7,'{m}@x.org');\n",
    "INSERT IGNORE INTO {t} (`id`, `email`) VALUES (7,\"{m}\");\n",
    "UPDATE {t} SET `email` = '{m}';\n",
    "/*!40000 INSERT INTO {t} VALUES (7,'{m}') */;\n",
    "/*M!100101 UPDATE {t} SET `email`='{m}' */;\n",
    "/*!40000 SET @a=1; INSERT INTO {t} VALUES (7,'{m}') */;\n",
    "INSERT INTO {t} SET `id`=7, `email`='{m}';\n",
    "INSERT INTO {t} VALUES (7,'a') ON DUPLICATE KEY UPDATE `email`='{m}';\n",
    "LOAD DATA LOCAL INFILE '{m}.csv' INTO TABLE {t};\n",
    "CREATE TABLE `cp` SELECT '{m}' AS email;\n",
    "PREPARE s FROM 'INSERT INTO t VALUES (7, \"{m}\")';\n",
    "# {m}\nUPDATE {t} SET `email`='{m}';\n",
    "{m};\n",
]


@FUZZ
@given(forms=st.lists(st.sampled_from(range(len(PG_FORMS))), min_size=1, max_size=3),
       table=st.sampled_from(["public.t", 'public."t;x"', '"public".t']))
def test_pg_data_statements(keyring, forms, table):
    name = table.replace('"', "")
    m = [marker(10 + i) for i in range(len(forms))]
    body = "".join(PG_FORMS[f].format(t=table, m=m[i], h=m[i].encode().hex()) for i, f in enumerate(forms))
    dump = PG_HEAD + f"CREATE TABLE {table} (\n    id integer,\n    email text\n);\n" + body
    profile = {"version": 1, "tables": {name: {"columns": {
        "id": "keep", "email": {"op": "pseudonymize", "format": "email"}}}}}
    with tempfile.TemporaryDirectory() as tmp:
        _check(Path(tmp), keyring, dump, profile, m, "pg data statements")


@FUZZ
@given(forms=st.lists(st.sampled_from(range(len(MY_FORMS))), min_size=1, max_size=3),
       table=st.sampled_from(["`t`", "`t;x`", "t"]))
def test_mysql_data_statements(keyring, forms, table):
    name = table.replace("`", "")
    m = [marker(20 + i) for i in range(len(forms))]
    body = "".join(MY_FORMS[f].format(t=table, m=m[i]) for i, f in enumerate(forms))
    dump = MY_HEAD + f"CREATE TABLE {table} (\n  `id` int(11) NOT NULL,\n  `email` varchar(99)\n);\n" + body
    profile = {"version": 1, "tables": {name: {"columns": {
        "id": "keep", "email": {"op": "pseudonymize", "format": "email"}}}}}
    with tempfile.TemporaryDirectory() as tmp:
        _check(Path(tmp), keyring, dump, profile, m, "mysql data statements")


# -- fuzz over the lexer ----------------------------------------------------------------------------

REAL_PG = (PG_HEAD + "SELECT pg_catalog.set_config('search_path', '', false);\n"
           "CREATE TABLE public.\"x;y\" (\n    id integer DEFAULT nextval('public.s'::regclass),\n"
           "    \"e;mail\" text,\n    note text DEFAULT 'it''s; fine'\n);\n"
           "COMMENT ON COLUMN public.\"x;y\".note IS 'a note; with /* and -- inside';\n"
           "CREATE FUNCTION public.f() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\n"
           "  INSERT INTO log VALUES ('x;y');\n  RETURN NEW;\nEND;\n$_$;\n"
           "COPY public.\"x;y\" (id, \"e;mail\", note) FROM stdin;\n1\ta@x.org\tline\\none\n2\t\\N\tb;c\n\\.\n"
           "INSERT INTO public.\"x;y\" VALUES (3, E'q\\'s', 'multi\nline');\n"
           "/* a /* nested */ comment; */ SELECT pg_catalog.setval('public.s', 3, true);\n")
REAL_MY = (MY_HEAD + "DROP TABLE IF EXISTS `t`;\nCREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n"
           "  `e` varchar(99) DEFAULT 'a;b' COMMENT 'x\\'y',\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=4;\n"
           "LOCK TABLES `t` WRITE;\n/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n"
           "INSERT INTO `t` VALUES (1,'a\\';b'),(2,\"c\\\"d\"),(3,_binary 'e\\0');\n"
           "/*!40000 ALTER TABLE `t` ENABLE KEYS */;\nUNLOCK TABLES;\nDELIMITER ;;\n"
           "/*!50003 CREATE*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN\n"
           "  SET NEW.e = 'x;y';\nEND */;;\nDELIMITER ;\n# done\n")


def _pieces(text: str, dialect: str) -> str:
    """The scanner's output put back together (raises InputError for a refused input)."""
    out = []
    lines = iter(io.StringIO(text, newline=""))  # split as the dump reader splits (\n, \r\n, \r)
    for item in Scanner(lines, dialect, "fuzz.sql").items():
        if isinstance(item, CopyData):  # its COPY statement came just before, as a Statement
            for _, line in item.lines:
                out.append(line)
            out.append(item.end[0])
        else:
            out.append(item.text)
    return "".join(out)


def _hang(signum, frame):
    raise TimeoutError("the scanner hangs")


def _lex(text: str, dialect: str, category: str) -> None:
    old = signal.signal(signal.SIGALRM, _hang)
    signal.alarm(20)
    try:
        again = _pieces(text, dialect)
    except InputError as e:
        assert "Traceback" not in str(e)
        TALLY[(category, "refused")] += 1
        return
    except Exception:
        TALLY[(category, "failed")] += 1
        raise
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if again != text:
        TALLY[(category, "failed")] += 1
    assert again == text, "the scanner lost or changed bytes"
    for _ in tokenize(text, dialect):  # the tokenizer never raises either
        pass
    TALLY[(category, "ok")] += 1


@st.composite
def mutated(draw, base: str) -> str:
    text = base
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(PIECES) | st.text(max_size=3))
        if op == "insert":
            text = text[:i] + piece + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 8)):]
        else:
            text = text[:i] + piece + text[i + len(piece):]
    return text


@FUZZ
@given(data=st.data(), dialect=st.sampled_from([PG, MYSQL]))
def test_lexer_on_mutated_real_dumps(data, dialect):
    _lex(data.draw(mutated(REAL_PG if dialect == PG else REAL_MY)), dialect, "lexer: mutated dumps")


@FUZZ
@given(raw=st.binary(max_size=400), dialect=st.sampled_from([PG, MYSQL]))
def test_lexer_on_random_bytes(raw, dialect):
    _lex(raw.decode("utf-8", "surrogateescape"), dialect, "lexer: random bytes")


@FUZZ
@given(text=st.lists(st.sampled_from(PIECES + ["\n", "COPY t FROM stdin;\n", "a\tb\n", "INSERT INTO t VALUES (",
                                               "'x'", ");\n", "DELIMITER ;;\n", "/*!40000 "]),
                     max_size=40).map("".join), dialect=st.sampled_from([PG, MYSQL]))
def test_lexer_on_sql_shaped_noise(text, dialect):
    _lex(text, dialect, "lexer: SQL-shaped noise")
