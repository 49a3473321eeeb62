"""Names for the Python objects machine code refers to, so that a `.pym` can be loaded in another process.

    describe(numpy.sqrt)           == "attr:numpy:sqrt"
    describe(numpy.ndarray.sum)    == "attr:numpy:ndarray.sum"
    describe(True)                 == "attr:builtins:True"
    describe(numpy.dtype("f8"))    == "dtype:float64"
    describe(math)                 == "module:math"
    describe(-5)                   == "int:-5"    (CPython's cached small ints only)
    resolve("attr:numpy:sqrt")     is numpy.sqrt

A name is given only if resolving it in this process gives back the very object
(`describe` checks), so a name never stands for something else. Resolving never
imports anything but `math`: a module a name refers to must be imported already
(an artifact naming NumPy is only asked for when NumPy is in use), so loading a
`.pym` runs no code named by the file. Objects of the program itself (its
functions) are not named here: the artifact refers to them through the globals
that hold them (runtime/artifacts.py).
"""

from __future__ import annotations

import sys
import types

# (kind, resolver): each name is "<kind>:<rest>"
_IMPORTABLE = frozenset({"math", "builtins"})


class UnknownObjectError(LookupError):
    """The name does not resolve to an object in this process."""


def describe(obj: object) -> str | None:
    """A name `resolve` maps back to `obj`, or None if it has none."""
    for name in _candidates(obj):
        if _resolves_to(name, obj):
            return name
    return None


def _resolves_to(name: str, obj: object) -> bool:
    try:
        return resolve(name) is obj
    except UnknownObjectError:
        return False


def _candidates(obj: object) -> list[str]:
    if obj is None or type(obj) is bool:
        return [f"attr:builtins:{obj!r}"]
    if type(obj) is int:
        return [f"int:{obj}"]  # resolves only for a cached small int (the entry's boxing: backend/entry.py)
    if isinstance(obj, types.ModuleType):
        return [f"module:{obj.__name__}"]
    numpy = sys.modules.get("numpy")
    if numpy is not None and type(obj) is not type and isinstance(obj, numpy.dtype):
        return [f"dtype:{obj.name}"]
    names = []
    if numpy is not None:
        from fastimport.frontend.numpy_calls import errstate_override

        override = errstate_override()
        if override is not None and obj is override[0]:
            names.append("errstate:var")
        if override is not None and obj is override[1]:
            names.append("errstate:raising")
    owner = getattr(obj, "__objclass__", None)  # a method descriptor: ndarray.sum
    if owner is not None:
        names.append(f"attr:{owner.__module__}:{owner.__qualname__}.{getattr(obj, '__name__', '')}")
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        names.append(f"attr:{module}:{qualname}")
    return names


def resolve(name: str) -> object:
    """The object `name` stands for in this process; UnknownObjectError if there is none."""
    kind, _, rest = name.partition(":")
    if kind == "attr":
        module_name, _, path = rest.partition(":")
        obj: object = _module(module_name)
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            raise UnknownObjectError(name) from None
        return obj
    if kind == "module":
        return _module(rest)
    if kind == "int":
        return _small_int(name, rest)
    if kind == "dtype":
        numpy = _module("numpy")
        try:
            return numpy.dtype(rest)  # type: ignore[attr-defined]
        except TypeError:
            raise UnknownObjectError(name) from None
    if kind == "errstate":
        from fastimport.frontend.numpy_calls import errstate_override

        _module("numpy")
        override = errstate_override()
        if override is not None and rest in ("var", "raising"):
            return override[0] if rest == "var" else override[1]
    raise UnknownObjectError(name)


def _small_int(name: str, text: str) -> int:
    """The cached small int `text` spells (the cache's own object), or UnknownObjectError."""
    from fastimport.runtime.funcobject import SMALL_INT_MAX, SMALL_INT_MIN

    try:
        value = int(text)
    except ValueError:
        raise UnknownObjectError(name) from None
    if not SMALL_INT_MIN <= value <= SMALL_INT_MAX:
        raise UnknownObjectError(name)
    return value


def _module(name: str) -> types.ModuleType:
    module = sys.modules.get(name)
    if module is None and name in _IMPORTABLE:
        import importlib

        module = importlib.import_module(name)
    if module is None:
        raise UnknownObjectError(f"module:{name} (not imported)")
    return module
