"""The fake operator with row options: a locale and a gender per row, fakes shaped like their originals.

Each distinct original gets one keyed digest, of the value alone, as without the options. The
row's locale (``locale_from``, or ``locale: auto`` reading the original) and gender
(``gender_from``, or the original first name's lists with ``locale: auto``) choose the word list
the digest indexes; ``shape: keep`` writes the result like the original. So a fake is a pure
function of (key, domain, value, the row's locale, the row's gender): the distinct
(value, locale, gender) triples of a batch are generated once each.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import fake as _fake  # a cycle with fake.py: its attributes are read at call time
from . import fake_locale as fl
from . import fake_shape as fs
from .arrays import blank_mask, fixed_width_strings, is_text, join, u64, without_blanks
from .registry import OpContext

NAME_KINDS = ("first_name", "last_name", "name")
_NON_ASCII = r"[^\x00-\x7F]"


def _assemble(parts: list[tuple[np.ndarray, pa.Array]], n: int) -> pa.Array:
    """The arrays of ``parts`` (row positions, values) put back in row order (``n`` rows)."""
    if len(parts) == 1 and len(parts[0][0]) == n:
        return parts[0][1]
    rows = np.concatenate([p[0] for p in parts])
    merged = pa.concat_arrays([p[1].cast(pa.string()) for p in parts])
    return merged.take(pa.array(np.argsort(rows, kind="stable")))


def _pick(v: dict, base: str, d: np.ndarray, word: int, gender: np.ndarray | None,
          accent: np.ndarray | None) -> pa.Array:
    """A word of list ``base`` per digest: from its male or female list where the gender is known
    and the locale has one, from its plain-ASCII or accented words where ``accent`` says (1, 2)."""
    n = len(d)
    g = gender if gender is not None else np.zeros(n, dtype=np.int8)
    a = accent if accent is not None else np.zeros(n, dtype=np.int8)
    parts = []
    for key in np.unique(g.astype(np.int64) * 3 + a):
        gi, ai = divmod(int(key), 3)
        name = base
        if gi and f"{base}_{'male' if gi == fl.MALE else 'female'}" in v:
            name = f"{base}_{'male' if gi == fl.MALE else 'female'}"
        if ai:
            name += "/plain" if ai == 1 else "/accented"
        rows = np.flatnonzero((g.astype(np.int64) * 3 + a) == key)
        words = v[name]
        parts.append((rows, words.take(pa.array(u64(d[rows], word) % np.uint64(len(words))))))
    return _assemble(parts, n)


def _postcodes(d: np.ndarray, patterns: list[str]) -> pa.Array:
    """Postcodes in the locale's shapes (# a digit, ? an upper-case letter)."""
    which = u64(d, 1) % np.uint64(len(patterns))
    parts = []
    for j, pattern in enumerate(patterns):
        rows = np.flatnonzero(which == j)
        if not len(rows):
            continue
        tmpl = np.frombuffer(pattern.encode(), dtype=np.uint8)
        chars = np.tile(tmpl, (len(rows), 1))
        dr = d[rows]
        for i, c in enumerate(tmpl):
            if c == ord("#"):
                chars[:, i] = 48 + dr[:, i % 32] % 10
            elif c == ord("?"):
                chars[:, i] = 65 + dr[:, i % 32] % 26
        parts.append((rows, fixed_width_strings(chars)))
    return _assemble(parts, len(d))


def _name(v: dict, fmt: str, d: np.ndarray, gender: np.ndarray, acc_first: np.ndarray | None,
          acc_last: np.ndarray | None) -> pa.Array:
    first = _pick(v, "first_name", d, 0, gender, acc_first)
    last = _pick(v, "last_name", d, 1, gender, acc_last)
    if fmt == "{l} {f}":
        return join(last, " ", first)
    if fmt == "{l}{f}":
        return join(last, first)
    return join(first, " ", last)


def generate(kind: str, d: np.ndarray, locale: str, gender: np.ndarray, acc: tuple | None, params: dict,
             region: str | None, style: int) -> pa.Array:
    """Fakes of one locale (and phone region and style), given each digest's gender and accent flags."""
    _iban_de, plain = _fake._iban_de, _fake.generate
    v, f = _fake.vocab(locale), _fake.formats(locale)
    a_first, a_last = acc if acc is not None else (None, None)
    if kind in ("first_name", "title"):
        return _pick(v, kind, d, 0, gender, a_first if kind == "first_name" else None)
    if kind == "last_name":
        return _pick(v, kind, d, 0, gender, a_last)
    if kind in ("city", "company"):
        return _pick(v, kind, d, 0, None, a_first)
    if kind == "name":
        return _name(v, f["name_format"], d, gender, a_first, a_last)
    if kind in ("email", "username"):
        first = _pick(v, "first_name_ascii", d, 0, None, None) if not gender.any() else \
            _slugs(_pick(v, "first_name", d, 0, gender, None))
        last = _slugs(_pick(v, "last_name", d, 1, gender, None))
        return _account(kind, first, last, d, params)
    if kind == "street_address":
        number, street = pc.cast(pa.array(1 + u64(d, 0) % np.uint64(199)), pa.string()), \
            _pick(v, "street_name", d, 1, None, a_first)
        pieces = f["street_format"].replace("{n}", "\0n\0").replace("{s}", "\0s\0").split("\0")
        return join(*[number if p == "n" else street if p == "s" else p for p in pieces if p])
    if kind == "postcode":
        return _postcodes(d, v["postcode_format"].to_pylist())
    if kind == "phone_number":
        out = fs.phones(d, region or locale[3:], style)
        return out if out is not None else fs.phones(d, locale[3:], style)
    if kind == "iban":
        return _iban_de(d)
    return plain(kind, d, "en_US", params["email_domain"])  # credit_card, date_of_birth


@cache
def _slug(word: str) -> str:
    _ascii_slug = _fake._ascii_slug
    return _ascii_slug(word)


def _slugs(words: pa.Array) -> pa.Array:
    """Each word's ASCII slug (computed once per distinct word: fakes come from bounded lists)."""
    enc = pc.dictionary_encode(words)
    return pa.array([_slug(w) for w in enc.dictionary.to_pylist()], type=pa.string()).take(enc.indices)


def _account(kind: str, first: pa.Array, last: pa.Array, d: np.ndarray, params: dict,
             sep: pa.Array | str | None = None) -> pa.Array:
    if kind == "email":
        sep = "." if sep is None else sep
        n = pc.cast(pa.array(1 + u64(d, 2) % np.uint64(999)), pa.string())
        return join(first, sep, last, n, "@" + params["email_domain"])
    sep = "_" if sep is None else sep
    n = pc.cast(pa.array(1 + u64(d, 2) % np.uint64(99)), pa.string())
    return join(first, sep, last, n)


def _from_columns(ctx: OpContext, n: int) -> tuple[pa.Array, pa.Array] | None:
    """The slugs of the row's fake first and last names, from the columns of ``from`` (the plan
    gives each as its compiled rule; a bare name is taken as faked in its default domain)."""
    fake_op = _fake.fake
    refs = ctx.params.get("from") or []
    if ctx.batch is None or not refs:
        return None
    outs = []
    for ref in refs:
        rule = ref if isinstance(ref, dict) else {"column": ref, "op": "fake", "domain": f"{ctx.table}.{ref}",
                                                  "kind": "first_name" if not outs else "last_name"}
        col = ctx.batch.column(rule["column"])
        blanks = blank_mask(col)
        if blanks is not None:
            col = without_blanks(col, blanks)
        params = fake_op.with_defaults({k: v for k, v in rule.items() if k not in ("column", "op", "domain")})
        sub = OpContext(ctx.keys, rule.get("domain") or "", params, ctx.table, rule["column"], ctx.batch,
                        ctx.row_offset, ctx.key_version)
        outs.append(pc.cast(fake_op.apply(col, sub), pa.string()))
    if len(outs) == 1:  # one full-name column: its first and last words
        first, last = fl._first_token(outs[0]), fl._last_token(outs[0])
    else:
        first, last = outs[0], outs[-1]
    return _slugs(pc.if_else(pc.is_valid(first), first, "")), _slugs(pc.if_else(pc.is_valid(last), last, ""))


def _contexts(ctx: OpContext, text_u: pa.Array, ui: np.ndarray,
              kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Each row's locale code, gender code and (phones) region."""
    p = ctx.params
    auto = p["locale"] == "auto"
    fallback = fl.CODE["en_US" if auto else p["locale"]]
    loc_u = fl.infer_locales(text_u, kind, fallback) if auto else np.full(len(text_u), fallback, dtype=np.int64)
    gen_u = np.zeros(len(text_u), dtype=np.int8)
    if auto and kind == "title":
        gen_u = fl.rows_gender(text_u)
    elif auto and kind in ("first_name", "name"):
        gen_u = fl.infer_genders(text_u)
    loc, gender = loc_u[ui], gen_u[ui]
    regions = None
    if p.get("locale_from") and ctx.batch is not None:
        codes, regions = fl.rows_country(ctx.batch.column(p["locale_from"]))
        loc = np.where(codes != fl.UNKNOWN, codes, loc)
    if p.get("gender_from") and ctx.batch is not None:
        g = fl.rows_gender(ctx.batch.column(p["gender_from"]))
        gender = np.where(g != 0, g, gender).astype(np.int8)
    return loc, gender, regions


def fake_rows(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """The fake operator's values with row options (module docstring)."""
    p, kind = ctx.params, ctx.params["kind"]
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    seen: dict = {}

    def distinct(u: pa.Array) -> pa.Array:
        seen["u"], seen["d"] = u, ctx.digests(u)
        return pa.array(np.arange(len(u), dtype=np.int64))

    row_u = ctx.map_distinct(arr, distinct)
    u, D = seen["u"], seen["d"]
    valid = pc.is_valid(row_u).to_numpy(zero_copy_only=False)
    ui = pc.fill_null(row_u, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    text_u = u if is_text(u.type) else pc.cast(u, pa.string())
    keep = p.get("shape") == "keep"
    loc, gender, regions = _contexts(ctx, text_u, ui, kind)

    if kind in ("email", "username") and p.get("from"):
        return _from_rows(ctx, kind, arr, text_u, D, ui, valid, loc, gender, keep)
    if kind == "credit_card" and keep:
        return fs.cards(text_u, D).take(row_u)

    # phones: the context is (region, style) instead of (locale, gender)
    style_u = np.full(len(u), fs.INTL, dtype=np.int8)
    ctx_id, ctx_values = loc, None
    if kind == "phone_number":
        own = [None] * len(u)
        if keep:
            style_u, own = fs.phone_styles(text_u)
        chosen = np.array([r or "" for r in own], dtype=object)[ui]
        if regions is not None:
            chosen = np.where(chosen == "", regions, chosen)
        chosen = np.where(chosen == "", np.array([loc_name[3:] for loc_name in fl.LOCALES], dtype=object)[loc],
                          chosen)
        values, which = np.unique(chosen.astype(str), return_inverse=True)
        ctx_values = values.tolist()
        ctx_id = which.astype(np.int64) * 4 + style_u[ui]
        gender = np.zeros(n, dtype=np.int8)

    acc_u = None
    if keep and kind in NAME_KINDS + ("city", "company", "street_address"):
        def flag(values: pa.Array) -> np.ndarray:
            hit = pc.fill_null(pc.match_substring_regex(values, _NON_ASCII), False).to_numpy(zero_copy_only=False)
            return np.where(hit, 2, 1).astype(np.int8)
        acc_u = (flag(fl._first_token(text_u)), flag(fl._last_token(text_u))) if kind == "name" else \
            (flag(text_u),) * 2
    case_u = fs.case_codes(text_u, kind) if keep and kind not in ("phone_number", "credit_card",
                                                                "date_of_birth", "iban") else None

    width = int(ctx_id.max()) + 1 if n else 1
    key = (ui * width + ctx_id) * 3 + gender
    combos, inv = np.unique(key[valid], return_inverse=True)
    c_gender = (combos % 3).astype(np.int8)
    c_ctx = (combos // 3) % width
    c_ui = combos // 3 // width
    parts = []
    for cid in np.unique(c_ctx):
        sel = np.flatnonzero(c_ctx == cid)
        cu = c_ui[sel]
        if ctx_values is not None:
            region, style = ctx_values[int(cid) // 4], int(cid) % 4
            locale = "en_US"
        else:
            region, style, locale = None, fs.INTL, fl.LOCALES[int(cid)]
        acc = (acc_u[0][cu], acc_u[1][cu]) if acc_u is not None else None
        out = generate(kind, D[cu], locale, c_gender[sel], acc, p, region, style)
        if case_u is not None:
            out = fs.apply_case(out.cast(pa.string()), case_u[cu], kind)
        parts.append((sel, out))
    res = _assemble(parts, len(combos)) if parts else pa.array([], pa.string())
    take = np.zeros(n, dtype=np.int64)
    take[valid] = inv
    return res.take(pa.array(take, mask=~valid))


def _from_rows(ctx: OpContext, kind: str, arr: pa.Array, text_u: pa.Array, D: np.ndarray, ui: np.ndarray,
               valid: np.ndarray, loc: np.ndarray, gender: np.ndarray, keep: bool) -> pa.Array:
    """Usernames and emails built from the row's fake first and last names (``from``); a row
    whose name columns are empty gets a name of its own locale and gender."""
    n = len(arr)
    names = _from_columns(ctx, n)
    d_rows = D[ui]
    own = []
    for code in np.unique(loc):
        rows = np.flatnonzero(loc == code)
        own.append((rows, generate("name", d_rows[rows], fl.LOCALES[int(code)], gender[rows], None, ctx.params,
                                   None, 0)))
    own_name = _assemble(own, n)
    own_first, own_last = _slugs(fl._first_token(own_name)), _slugs(fl._last_token(own_name))
    first, last = names if names is not None else (own_first, own_last)
    first = pc.if_else(pc.equal(first, "x"), own_first, first)
    last = pc.if_else(pc.equal(last, "x"), own_last, last)
    sep = None
    if keep:
        local = pc.struct_field(pc.extract_regex(text_u, r"^(?P<t>[^@]*)"), [0])
        sep_u = np.full(len(text_u), "", dtype=object)
        for s in ("-", "_", "."):
            hit = pc.fill_null(pc.match_substring(local, s), False).to_numpy(zero_copy_only=False)
            sep_u[hit] = s
        sep = pa.array(sep_u[ui].tolist(), type=pa.string())
    out = _account(kind, first, last, d_rows, ctx.params, sep)
    return pc.if_else(pa.array(valid), out, pa.scalar(None, pa.string()))
