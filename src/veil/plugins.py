"""Plugins: operators, recognizers and formats from other distributions, by entry points.

A distribution adds to veil by declaring entry points (pyproject.toml,
``[project.entry-points."veil.operators"]``) in three groups. The entry point's
name is the name veil knows it by; what it loads must be:

- ``veil.operators``: a :class:`veil.ops.Operator` (made with
  ``@veil.ops.operator("name", ...)``, declaring its capabilities) whose name
  is the entry point's name;
- ``veil.recognizers``: a Presidio ``EntityRecognizer`` instance, or a
  callable without arguments returning one; it is added to the pattern
  recognizers of ``veil scan`` and ``scrub``. Its entities should be veil's
  entity names (``veil.detect.entities``);
- ``veil.formats``: a format object like the built-in ones
  (``veil.formats``): ``name``, ``extensions`` (a tuple of file name endings),
  ``open(path, name) -> Table`` and ``writer(path, schema, source) -> Writer``.

Nothing is imported when veil is: the entry points of a group are listed once
per process, the first time something is looked up that veil does not have
built in, and a plugin is loaded the first time it is used (or listed, by
``veil operators``). A plugin that fails to load, loads something that is not
what its group needs, or names a built-in (or another plugin's name), is not
used: :func:`problem` tells why, so a profile naming it fails with exit 3 and
``veil operators`` prints a warning. A built-in is never replaced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

OPERATORS_GROUP = "veil.operators"
RECOGNIZERS_GROUP = "veil.recognizers"
FORMATS_GROUP = "veil.formats"
GROUPS = (OPERATORS_GROUP, RECOGNIZERS_GROUP, FORMATS_GROUP)


@dataclass(frozen=True)
class PluginProblem:
    group: str
    name: str
    origin: str
    message: str

    def render(self) -> str:
        return f"plugin {self.name} ({self.group}, from {self.origin}): {self.message}"


def origin(ep: EntryPoint) -> str:
    """The distribution an entry point comes from, as "name version"."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "an unknown distribution"
    return f"{dist.metadata['Name'] or dist.name} {dist.version}"


class PluginGroup:
    """One entry point group: listed once, each plugin loaded at most once."""

    def __init__(self, group: str, builtins: Collection[str] | Callable[[], Collection[str]],
                 accept: Callable[[str, Any], Any]):
        self.group = group
        self._builtins = builtins
        self._accept = accept  # (name, loaded object) -> the object to use; raises TypeError/ValueError
        self._lock = threading.RLock()
        self._listed: dict[str, list[EntryPoint]] | None = None
        self._loaded: dict[str, Any] = {}
        self._problems: dict[str, PluginProblem] = {}

    def entry_points(self) -> dict[str, list[EntryPoint]]:
        with self._lock:
            if self._listed is None:
                listed: dict[str, list[EntryPoint]] = {}
                for ep in entry_points(group=self.group):
                    listed.setdefault(ep.name, []).append(ep)
                self._listed = listed
            return self._listed

    def names(self) -> list[str]:
        return sorted(self.entry_points())

    def problem(self, name: str) -> PluginProblem | None:
        """Why the plugin of this name cannot be used (None: it can, or there is none)."""
        self.load(name)
        return self._problems.get(name)

    def load(self, name: str) -> Any | None:
        """The plugin's object, loaded on first use; None when there is none or it is unusable."""
        with self._lock:
            if name in self._loaded or name in self._problems:
                return self._loaded.get(name)
            eps = self.entry_points().get(name)
            if not eps:
                return None
            where = ", ".join(origin(ep) for ep in eps)
            builtins = self._builtins() if callable(self._builtins) else self._builtins
            if name in builtins:
                return self._refuse(name, where, "its name is a built-in's (a plugin never replaces a built-in)",
                                    "rename the plugin's entry point")
            if len(eps) > 1:
                return self._refuse(name, where, "several distributions register this name",
                                    "uninstall all but one")
            try:
                obj = self._accept(name, eps[0].load())
            except Exception as exc:  # a plugin's import may raise anything: report its type, not a value
                return self._refuse(name, where, f"it failed to load ({type(exc).__name__})",
                                    "check that the plugin is installed and works with this veil")
            self._loaded[name] = obj
            return obj

    def _refuse(self, name: str, where: str, why: str, hint: str) -> None:
        self._problems[name] = PluginProblem(self.group, name, where, f"{why} ({hint})")
        return None

    def load_all(self) -> tuple[dict[str, Any], list[PluginProblem]]:
        """Every plugin of the group that loads, and the problems of the others."""
        for name in self.names():
            self.load(name)
        with self._lock:
            return dict(self._loaded), [self._problems[n] for n in sorted(self._problems)]

    def reset(self) -> None:
        """Forget what was listed and loaded (tests that install a plugin on the fly)."""
        with self._lock:
            self._listed, self._loaded, self._problems = None, {}, {}


def accept_recognizer(name: str, obj: Any) -> Any:
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "analyze")):
        obj = obj()  # a class or a factory
    if not all(hasattr(obj, a) for a in ("analyze", "supported_entities")):
        raise TypeError("a veil.recognizers entry point must give a Presidio EntityRecognizer")
    return obj


def accept_format(name: str, obj: Any) -> Any:
    if isinstance(obj, type):
        obj = obj()
    if getattr(obj, "name", None) != name:
        raise ValueError("a veil.formats entry point must give a format whose name is the entry point's")
    ext = getattr(obj, "extensions", None)
    if not isinstance(ext, tuple) or not ext or not all(isinstance(e, str) and e for e in ext):
        raise TypeError("a format's extensions must be a non-empty tuple of file name endings")
    if not (callable(getattr(obj, "open", None)) and callable(getattr(obj, "writer", None))):
        raise TypeError("a format needs open(path, name) and writer(path, schema, source)")
    return obj


def _no_builtins() -> Collection[str]:
    return ()


#: Recognizers have no built-in names to clash with (veil's are Presidio's classes).
RECOGNIZERS = PluginGroup(RECOGNIZERS_GROUP, _no_builtins, accept_recognizer)


def recognizers() -> list[Any]:
    """The recognizers of every usable veil.recognizers plugin (loaded once)."""
    loaded, _ = RECOGNIZERS.load_all()
    return [loaded[n] for n in sorted(loaded)]
