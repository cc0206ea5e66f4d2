"""Profile upkeep: merge a new scan into a profile someone edited (``veil scan INPUT --update PROFILE``).

What is merged, from the draft veil would write for the same scan (:func:`draft_profile`):

- a table of the input the profile does not name (by its full or unambiguous bare name, as ``veil run``
  matches them) is added whole, as the draft writes it (its comments, ``primary_key``, inferred
  ``foreign_keys``, every column rule), under ``# added by veil scan --update on <date>: new table``;
- a column of a known table the profile does not cover is added at the end of the table's ``columns``
  with the draft's rule and evidence comment, under ``# added by ... : new column`` (a quasi-identifier the
  draft keeps for its privacy k gets its usual rule unless the profile holds it to a k); a new column the
  scan infers to be a foreign key gets the draft's ``foreign_keys`` entry (under ``# added by ... : new
  foreign key``) instead of a rule (it inherits), and a new column the dump's DDL declares a foreign
  key needs nothing (``veil run`` inherits it from the DDL), so nothing is written for it;
- a table or column rule the input no longer has is *not* deleted: the line above it gets
  ``# veil scan --update: not in the input on <date>`` (``veil validate`` still reports it); when it
  comes back, that mark is removed.

Never merged: a rule already in the profile (a hand edit wins, even where the scan would now suggest
something else, a wider key ``range`` included), ``primary_key`` / ``unique`` / ``subject`` of a known
table, a foreign key between columns the profile already covers, ``defaults``.

How: ruamel.yaml's round-trip loader parses the profile only to learn where each table, column and
foreign key stands (line and column). The new text is the old text with whole lines inserted, or one of
veil's own marks removed; the document is never dumped again, since ruamel's emitter re-wraps long
lines, re-spaces flow mappings and re-indents sequences. So every byte not touched stays as written, the
diff shows only the additions and marks, and a second update with the same input changes nothing. The
result is parsed again and checked to hold every old value unchanged before it is returned. A
``columns``, ``tables`` or ``foreign_keys`` written in flow style (``{a: keep}``) cannot take new
lines: that is a profile error naming the line (vanished entries in flow style are listed, not marked).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError

from ..errors import Problem, ProfileError
from .draft import _flow, _y, draft_profile, suggest
from .findings import Finding, ScanResult, TableScan

VANISHED = "# veil scan --update: not in the input on "
ADDED = "# added by veil scan --update on {date}: new {what}"
_INHERITS = re.compile(r"^# (.+): inherits the rule of the column it references$")
_BREAK = re.compile(r"\r\n|\r|\n")  # YAML 1.2's line breaks, as ruamel counts lines
QI_NOTE = " | quasi-identifier: generalized by veil run to reach privacy k"  # detect.draft's note
_MERGE_HINT = "merge by hand: write a draft with veil scan INPUT -o draft.yaml and copy its new rules"


@dataclass
class UpdateSummary:
    """What an update changed, by name (table and column names only, never a value)."""

    added_tables: list[str] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)  # "table.column", those of new tables too
    added_foreign_keys: list[str] = field(default_factory=list)
    marked: list[str] = field(default_factory=list)  # vanished, marked by this update
    still_vanished: list[str] = field(default_factory=list)  # marked before, or in flow style
    unmarked: list[str] = field(default_factory=list)  # back in the input: their mark was removed

    @property
    def changed(self) -> bool:
        return bool(self.added_tables or self.added_columns or self.added_foreign_keys or self.marked
                    or self.unmarked)

    def listing(self) -> list[str]:
        """One line per table.column: added (+), not in the input (!), back in it (-)."""
        return ([f"+ {n}" for n in self.added_columns] + [f"! {n} (not in the input: marked)" for n in self.marked]
                + [f"! {n} (not in the input)" for n in self.still_vanished]
                + [f"- {n} (back in the input: mark removed)" for n in self.unmarked])

    def describe(self) -> str:
        """One line: "added N columns (M tables), marked K vanished" and what else happened."""
        text = (f"added {len(self.added_columns)} columns ({len(self.added_tables)} tables), "
                f"marked {len(self.marked)} vanished")
        if self.added_foreign_keys:
            text += f", {len(self.added_foreign_keys)} inferred foreign keys"
        if self.unmarked:
            text += f", unmarked {len(self.unmarked)} back in the input"
        if self.still_vanished:
            text += f"; {len(self.still_vanished)} still not in the input"
        return text


def _load(text: str, file: str | None) -> Any:
    """The round-trip document, or a ProfileError naming the line (the YAML's text is never quoted)."""
    try:
        return YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # ruamel's duplicate-key message quotes both values: named by position only
        problem = "a key given twice in one mapping" if isinstance(exc, DuplicateKeyError) else \
            getattr(exc, "problem", None) or "invalid YAML"
        raise ProfileError([Problem(f"invalid YAML: {problem}", "", mark.line + 1 if mark else None)],
                           file=file) from None


def _split(text: str) -> list[str]:
    """The lines of ``text``, each with its line break (the last may have none)."""
    lines, start = [], 0
    for m in _BREAK.finditer(text):
        lines.append(text[start:m.end()])
        start = m.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_comment(line: str) -> bool:
    return line.lstrip(" ").startswith("#")


def _end(lines: list[str], line: int, col: int, item: bool = False) -> int:
    """The last line of the entry whose key (or, with ``item``, sequence dash) is at ``line``, ``col``:
    the lines after it indented deeper (blank lines skipped; a ``- `` at the key's own column is a
    block sequence under the key)."""
    end = line
    for i in range(line + 1, len(lines)):
        s = lines[i]
        if not s.strip():
            continue
        ind = _indent(s)
        rest = s[ind:].rstrip("\r\n")
        if ind < col or (ind == col and (item or not (rest == "-" or rest.startswith("- ")))):
            break
        end = i
    return end


def _shift(block: list[str], by: int, nl: str) -> list[str]:
    """Draft lines moved ``by`` columns (negative: to the left), with the profile's line break."""
    out = []
    for s in block:
        s = s.rstrip("\r\n")
        s = " " * by + s if by >= 0 else s[min(-by, _indent(s)):]
        out.append(s + nl)
    return out


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _names(value: Any) -> list[str]:
    """A foreign key's ``columns`` (a list, or one name)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value is not None else []


class _Merge:
    """One update: the profile's lines, the draft's, and the edits (lines inserted, lines removed)."""

    def __init__(self, text: str, file: str | None, result: ScanResult, date: str):
        self.file = file
        self.lines = _split(text)
        m = _BREAK.search(text)
        self.nl = m.group(0) if m else "\n"
        self.result = result
        self._draft: tuple[list[str], CommentedMap] | None = None
        self.date = date
        self.after: dict[int, list[str]] = {}  # lines inserted before line i, closing the block above it
        self.before: dict[int, list[str]] = {}  # lines inserted before line i, about line i
        self.removed: set[int] = set()

    def refuse(self, message: str, path: str, line: int | None, hint: str = _MERGE_HINT) -> ProfileError:
        return ProfileError([Problem(message, path, None if line is None else line + 1, hint)], file=self.file)

    # -- where new entries go ----------------------------------------------------

    def slot(self, parent: CommentedMap, key: Any, path: str) -> tuple[int, int]:
        """Where entries are appended to ``parent[key]`` (a block mapping, a block list of foreign keys,
        or nothing yet): the line to insert before, and the column of the new keys (or dashes)."""
        line, col = parent.lc.key(key)
        value = parent[key]
        if value is None:
            return _end(self.lines, line, col) + 1, col + 2
        if not isinstance(value, CommentedMap | CommentedSeq):
            raise self.refuse("expected a mapping (or a list of foreign keys) here", path, line,
                              "fix the profile (veil validate names every problem), then update again")
        if value.fa.flow_style() or len(value) == 0:  # an empty {} or [] is flow style whatever ruamel says
            raise self.refuse("written in flow style ({...} or [...]): veil scan --update adds lines in block "
                              "style only", path, line, "write it one entry a line (block style), then update again")
        if isinstance(value, CommentedMap):
            last = list(value)[-1]
            kline, kcol = value.lc.key(last)
            return _end(self.lines, kline, kcol) + 1, kcol
        iline, icol = value.lc.item(len(value) - 1)
        head = self.lines[iline][:icol].rstrip()
        if not head.endswith("-"):
            raise self.refuse("a list item this update cannot place entries after", path, iline)
        dash = len(head) - 1
        return _end(self.lines, iline, dash, item=True) + 1, dash

    def insert(self, at: int, lines: list[str]) -> None:
        if at >= len(self.lines) and self.lines and not self.lines[-1].endswith(("\n", "\r")):
            self.lines[-1] += self.nl  # the file ends without a line break: one is needed before new lines
        self.after.setdefault(at, []).extend(lines)

    def mark(self, container: CommentedMap, key: Any, what: str, summary: UpdateSummary) -> None:
        """Mark ``key`` of ``container`` as not in the input (once; not in flow style)."""
        line, col = container.lc.key(key)
        if container.fa.flow_style():
            summary.still_vanished.append(what)
        elif line > 0 and self.lines[line - 1].strip().startswith(VANISHED):
            summary.still_vanished.append(what)
        else:
            self.before.setdefault(line, []).append(" " * col + VANISHED + self.date + self.nl)
            summary.marked.append(what)

    def unmark(self, container: CommentedMap, key: Any, what: str, summary: UpdateSummary) -> None:
        """Remove this update's mark above ``key``: it is in the input again."""
        line, _ = container.lc.key(key)
        if not container.fa.flow_style() and line > 0 and self.lines[line - 1].strip().startswith(VANISHED):
            self.removed.add(line - 1)
            summary.unmarked.append(what)

    def text(self) -> str:
        out: list[str] = []
        for i in range(len(self.lines) + 1):
            out += self.after.get(i, []) + self.before.get(i, [])
            if i < len(self.lines) and i not in self.removed:
                out.append(self.lines[i])
        return "".join(out)

    # -- what the draft says ------------------------------------------------------

    @property
    def dlines(self) -> list[str]:
        return self.draft()[0]

    def draft(self) -> tuple[list[str], CommentedMap]:
        """The draft's lines and its tables, made when first needed (an update that adds nothing
        parses no draft)."""
        if self._draft is None:
            text = draft_profile(self.result)
            self._draft = _split(text), _load(text, "<draft>")["tables"]
        return self._draft

    def draft_table(self, name: str) -> tuple[list[str], int, int]:
        """The draft's lines of a table, with its key's column, and the line range."""
        dlines, dtables = self.draft()
        line, col = dtables.lc.key(name)
        end = _end(dlines, line, col)
        return dlines[line:end + 1], col, line

    def draft_column(self, table: str, column: str) -> tuple[list[str], int] | None:
        """The draft's lines for one column: its evidence comment, then its rule (or the line saying a
        foreign key inherits its rule)."""
        dt = self.draft()[1][table]
        dcols = dt.get("columns") if isinstance(dt, CommentedMap) else None
        if isinstance(dcols, CommentedMap) and column in dcols:
            line, col = dcols.lc.key(column)
            end = _end(self.dlines, line, col)
        else:
            block, _, first = self.draft_table(table)
            for i, s in enumerate(block):
                m = _INHERITS.match(s.strip())
                if m and column in (m.group(1), _unquote(m.group(1))):
                    line, col, end = first + i, _indent(s), first + i
                    break
            else:
                return None
        start = line
        while start > 0 and _is_comment(self.dlines[start - 1]) and _indent(self.dlines[start - 1]) == col \
                and not _INHERITS.match(self.dlines[start - 1].strip()):
            start -= 1
        return self.dlines[start:end + 1], col

    def draft_foreign_key(self, table: str, columns: list[str]) -> tuple[list[str], int] | None:
        dfks = self.draft()[1][table].get("foreign_keys")
        for i, item in enumerate(dfks or []):
            if _names(item.get("columns")) == columns:
                line, ccol = dfks.lc.item(i)
                dash = len(self.dlines[line][:ccol].rstrip()) - 1
                return self.dlines[line:_end(self.dlines, line, dash, item=True) + 1], dash
        return None


def _unquote(name: str) -> str | None:
    try:
        value = json.loads(name)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def update_profile(existing_text: str, result: ScanResult, file: str | None, *,
                   aliases: dict[str, str] | None = None, today: str | None = None) -> tuple[str, UpdateSummary]:
    """The profile ``existing_text`` with the tables and columns of ``result`` it lacks added and the ones
    the input lacks marked (see the module's docstring), and what changed. ``aliases``: the input's bare
    table names (``customers`` for ``public.customers``), as ``Dataset.aliases``; ``today``: the date
    written in the comments (default: today, UTC). Raises ProfileError (with the line) when the profile
    does not parse, or has a layout new lines cannot be added to."""
    date = today or datetime.now(UTC).strftime("%Y-%m-%d")
    doc = _load(existing_text, file)
    if not isinstance(doc, CommentedMap) or not ("version" in doc or "tables" in doc):
        raise ProfileError([Problem("the profile must be a mapping with version and tables", "", 1,
                                    "is this a veil profile? write a new one with veil scan INPUT -o PROFILE")],
                           file=file)
    merge = _Merge(existing_text, file, result, date)
    summary = UpdateSummary()
    aliases = aliases or {}

    tables = doc.get("tables")
    if "tables" in doc and tables is not None and not isinstance(tables, CommentedMap):
        raise merge.refuse("tables must be a mapping of table name to rules", "tables", doc.lc.key("tables")[0])
    tables = tables or {}
    inputs = {ts.name: ts for ts in result.tables}
    by_input: dict[str, Any] = {}
    for pname in tables:
        name = str(pname) if str(pname) in inputs else aliases.get(str(pname), str(pname))
        if name in inputs and name not in by_input:
            by_input[name] = pname
        elif name not in inputs:
            merge.mark(tables, pname, str(pname), summary)
    findings: dict[str, list[Finding]] = {}
    for f in result.findings:
        findings.setdefault(f.table, []).append(f)

    new_tables = []
    for ts in result.tables:
        if ts.name not in by_input:
            new_tables.append(ts)
            continue
        pname = by_input[ts.name]
        merge.unmark(tables, pname, str(pname), summary)
        _update_table(merge, tables, pname, ts, findings.get(ts.name, []), summary)

    if new_tables:
        lines: list[str] = []
        if "tables" in doc:
            at, col = merge.slot(doc, "tables", "tables")
        else:
            at, col, lines = len(merge.lines), 2, ["tables:" + merge.nl]
        for ts in new_tables:
            block, dcol, _ = merge.draft_table(ts.name)
            lines.append(" " * col + ADDED.format(date=date, what="table") + merge.nl)
            lines += _shift(block, col - dcol, merge.nl)
            summary.added_tables.append(ts.name)
            summary.added_columns += [f"{ts.name}.{f.column}" for f in findings.get(ts.name, [])]
        merge.insert(at, lines)

    if not summary.changed:
        return existing_text, summary
    new_text = merge.text()
    _check(doc, new_text, file, summary)
    return new_text, summary


def _update_table(merge: _Merge, tables: CommentedMap, pname: Any, ts: TableScan, found: list[Finding],
                  summary: UpdateSummary) -> None:
    """New columns (and their inferred foreign keys) of one known table; its vanished column rules marked."""
    path = f"tables.{pname}"
    rules = tables[pname]
    if rules is not None and not isinstance(rules, CommentedMap):
        raise merge.refuse("a table's rules must be a mapping (columns, primary_key, ...)", path,
                           tables.lc.key(pname)[0])
    rules = rules if rules is not None else CommentedMap()
    cols = rules.get("columns")
    cols = cols if isinstance(cols, CommentedMap) else CommentedMap()
    fks = rules.get("foreign_keys")
    known = {str(c) for c in cols}
    known |= {c for fk in (fks if isinstance(fks, list) else []) if isinstance(fk, dict)
              for c in _names(fk.get("columns"))}
    present = {f.column for f in found}
    for c in cols:
        if str(c) in present:
            merge.unmark(cols, c, f"{ts.name}.{c}", summary)
        else:
            merge.mark(cols, c, f"{ts.name}.{c}", summary)
    fk_of = {c: fk for fk in ts.foreign_keys for c in fk["columns"]}
    new_cols: list[str] = []
    new_fks: list[dict] = []
    for f in found:
        if f.column in known:
            continue
        fk = fk_of.get(f.column) if f.key == "foreign" else None
        if fk is not None and fk.get("source") == "ddl":
            continue  # the dump declares it: veil run inherits the referenced column's rule
        if fk is not None and fk not in new_fks:
            if any(c in known for c in fk["columns"]):
                continue  # part of a key the profile covers otherwise: left to the person who wrote it
            new_fks.append(fk)
        new_cols.append(f.column)
    if new_cols:
        lines: list[str] = []
        if "columns" in rules:
            at, col = merge.slot(rules, "columns", f"{path}.columns")
        else:
            at, col = merge.slot(tables, pname, path)
            lines, col = [" " * col + "columns:" + merge.nl], col + 2
        unguarded = _unguarded_qis(merge, ts.name, rules)
        by_column = {f.column: f for f in found}
        for c in new_cols:
            got = merge.draft_column(ts.name, c)
            if got is None:
                continue
            block, dcol = got
            if c in unguarded:
                block = _without_privacy_k(block, by_column[c], ts, merge)
            lines.append(" " * col + ADDED.format(date=merge.date, what="column") + merge.nl)
            lines += _shift(block, col - dcol, merge.nl)
            summary.added_columns.append(f"{ts.name}.{c}")
        merge.insert(at, lines)
    if new_fks:
        lines = []
        if "foreign_keys" in rules:
            at, dash = merge.slot(rules, "foreign_keys", f"{path}.foreign_keys")
        else:
            at, col = merge.slot(tables, pname, path)
            lines, dash = [" " * col + "foreign_keys:  # inferred, not declared: check" + merge.nl], col + 2
        for fk in new_fks:
            got = merge.draft_foreign_key(ts.name, list(fk["columns"]))
            if got is not None:
                block, ddash = got
                lines.append(" " * dash + ADDED.format(date=merge.date, what="foreign key") + merge.nl)
                lines += _shift(block, dash - ddash, merge.nl)
                summary.added_foreign_keys.append(f"{ts.name}.{','.join(fk['columns'])}")
        merge.insert(at, lines)


def _unguarded_qis(merge: _Merge, table: str, rules: CommentedMap) -> set[str]:
    """The draft's quasi-identifiers of ``table`` (kept: veil run generalizes them to the drafted k)
    the profile does not hold to a k: a new one gets its usual rule, or it would be copied as is."""
    dprivacy = merge.draft()[1][table].get("privacy")
    dqis = set(_names(dprivacy.get("quasi_identifiers"))) if isinstance(dprivacy, dict) else set()
    privacy = rules.get("privacy")
    if isinstance(privacy, dict) and privacy.get("k"):
        dqis -= set(_names(privacy.get("quasi_identifiers")))
    return dqis


def _without_privacy_k(block: list[str], f: Finding, ts: TableScan, merge: _Merge) -> list[str]:
    """A new column's draft lines with the rule the scan suggests when no privacy k guards it."""
    rule = suggest(f, ts.name, {}, text_storage=ts.format == "csv", partitioned=ts.partitioned,
                   ner=merge.result.ner)
    out = []
    for line in block:
        if _is_comment(line):
            out.append(line.replace(QI_NOTE, " | quasi-identifier: not held to a privacy k here"))
            continue
        body = line.rstrip("\r\n")
        out.append(f"{' ' * _indent(line)}{_y(f.column)}: {_flow(rule)}{line[len(body):]}")
    return out


def _check(old: CommentedMap, new_text: str, file: str | None, summary: UpdateSummary) -> None:
    """The merged text parses, and holds every old value unchanged: only tables, columns and foreign
    keys were added."""
    def broken(why: str) -> ProfileError:
        return ProfileError([Problem(f"the scan could not be merged into this profile's layout ({why}); "
                                     "nothing was written", "", None, _MERGE_HINT)], file=file)

    try:
        new = _plain(YAML(typ="rt").load(new_text))
    except YAMLError:
        raise broken("the result would not parse") from None
    old = _plain(old)
    if not isinstance(new, dict):
        raise broken("the result is not a mapping")
    for key, value in old.items():
        if key != "tables" and new.get(key) != value:
            raise broken(f"'{key}' changed")
    old_tables, new_tables = old.get("tables") or {}, new.get("tables") or {}
    for name, rules in old_tables.items():
        now = new_tables.get(name, ())
        if rules is None:
            if now is None:
                continue
            rules = {}
        if not isinstance(now, dict) or not set(rules) <= set(now) or not set(now) - set(rules) <= {
                "columns", "foreign_keys"}:
            raise broken(f"table {name} changed")
        for key, value in rules.items():
            if key == "columns" and isinstance(value, dict):
                ok = isinstance(now[key], dict) and all(now[key].get(c, object()) == v for c, v in value.items())
            elif key == "foreign_keys" and isinstance(value, list):
                ok = isinstance(now[key], list) and now[key][:len(value)] == value
            else:
                ok = now[key] == value or (value is None and key in ("columns", "foreign_keys"))
            if not ok:
                raise broken(f"table {name}, {key} changed")
    for name in summary.added_tables:
        if name not in new_tables:
            raise broken(f"table {name} was not added")
