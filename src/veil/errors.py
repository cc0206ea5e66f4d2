"""User-facing errors.

Every error veil raises on purpose is a :class:`VeilError`: it says what went
wrong, where (file, line or row, table.column) and what to do next. None of
them ever carries a value from the input: messages are built from names,
counts and positions only. The CLI turns them into one clean line and an exit
code; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

# Exit codes, documented in README.md and `veil --help`.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_PROFILE = 3
EXIT_UNCLASSIFIED = 4
EXIT_INPUT = 5
EXIT_KEYS = 6
EXIT_INTEGRITY = 7
EXIT_VAULT = 8
EXIT_OUTPUT = 9
EXIT_GATE = 10

#: The one table of exit codes: ``veil --help`` is built from it and a test holds
#: README.md's table to it, row for row.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_INTERNAL: "internal error (rerun with `--debug` and report it)",
    EXIT_USAGE: "usage error (bad option or argument, a passphrase shorter than 8 characters, "
                "a file veil must not write)",
    EXIT_PROFILE: "the profile has problems",
    EXIT_UNCLASSIFIED: "unclassified columns (`unknown_columns: fail`)",
    EXIT_INPUT: "the input cannot be read (including dump statements veil cannot rewrite)",
    EXIT_KEYS: "keyring missing, unsafe, damaged, or an unknown or destroyed key version; "
               "`rekey --from` equal to `--to`",
    EXIT_INTEGRITY: "a key column would lose uniqueness (pseudonym collision)",
    EXIT_VAULT: "vault missing, unsafe, damaged, bound to another keyring, or without the records "
                "asked for; audit chain broken; a key destruction left unfinished",
    EXIT_OUTPUT: "the output cannot be written now: no space left or file-size limit (`ulimit -f`), "
                 "or another veil run is writing the same output; nothing was replaced, retry",
    EXIT_GATE: "`veil verify`: a gate failed (`--fail-on`, or the profile's privacy k and l): the copy "
               "is not safe or useful enough to publish",
}


class VeilError(Exception):
    """Base class: an error the user can act on."""

    exit_code = EXIT_INTERNAL

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        row: int | None = None,
        table: str | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.row = row
        self.table = table
        self.column = column
        self.hint = hint

    def __reduce__(self):
        # Errors raised in worker processes travel back pickled: keep every field.
        return (_rebuild, (type(self), self.__dict__.copy()))

    def where(self) -> str:
        parts = []
        if self.file:
            loc = str(self.file)
            if self.line is not None:
                loc += f":{self.line}"
            parts.append(loc)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.table:
            parts.append(f"{self.table}.{self.column}" if self.column else self.table)
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


def _rebuild(cls: type, state: dict) -> VeilError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err


class InputError(VeilError):
    """The input cannot be read as expected."""

    exit_code = EXIT_INPUT


class KeyringError(VeilError):
    """The keyring is missing, unsafe or unusable."""

    exit_code = EXIT_KEYS


class VaultError(VeilError):
    """The vault is missing, damaged, or lacks what was asked of it."""

    exit_code = EXIT_VAULT


class UsageError(VeilError):
    """An option or argument the command cannot use (exit code 2, like click's own)."""

    exit_code = EXIT_USAGE


class OutputError(VeilError):
    """The output cannot be written now: no space left, the file-size limit, or another
    veil run writing the same output (exit code 9: retry later, nothing was changed)."""

    exit_code = EXIT_OUTPUT


class IntegrityError(VeilError):
    """The output would break a key (a collision in a unique column)."""

    exit_code = EXIT_INTEGRITY


@dataclass
class Problem:
    """One problem found while validating a profile against (maybe) an input."""

    message: str
    path: str = ""
    line: int | None = None
    hint: str | None = None
    kind: str = "profile"  # "profile" or "unclassified"

    def render(self, file: str | None) -> str:
        loc = file or "<profile>"
        if self.line is not None:
            loc += f":{self.line}"
        text = f"{loc}: {self.path}: {self.message}" if self.path else f"{loc}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


@dataclass
class ProfileError(VeilError):
    """A profile has one or more problems; all are reported at once."""

    problems: list[Problem] = field(default_factory=list)
    file: str | None = None

    def __post_init__(self) -> None:
        file = self.file
        VeilError.__init__(self, self._summary())
        self.file = file

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        if self.problems and all(p.kind == "unclassified" for p in self.problems):
            return EXIT_UNCLASSIFIED
        return EXIT_PROFILE

    def _summary(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in profile {self.file or ''}".rstrip()
        return head + "\n" + "\n".join("  " + p.render(self.file) for p in self.problems)

    def __str__(self) -> str:
        return self._summary()


def did_you_mean(name: str, options, cutoff: float = 0.6) -> str | None:
    """A hint naming the closest of ``options`` to a misspelt ``name``, if any is close enough."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=cutoff)
    return f"did you mean '{close[0]}'?" if close else None
