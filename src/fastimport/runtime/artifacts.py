"""Compiled units kept in `.pym` artifacts, and loaded from them without LLVM.

One artifact per module (runtime/cachedir.py names it), holding every unit compiled for
that module's source (cache/FORMAT.md):

    meta         plain data: {"units": [unit, ...], "shared": ..., "members": ...}, one unit
                 per (function, argument types)
    runtime      object image of the shared runtime (backend/entry.py `runtime_loaded`)
    code         one image of the module's members: `unit:<k>` (unit k's kernels) and
                 `shape:<s>` (the entry code of shape <s>: guards, unboxing, boxing)

(Images: backend/objdigest.py makes them from LLVM's ELF objects as the file is written,
backend/objgroup.py merges the members' into one, and splits it when a unit is added.)

A unit says what the loader needs to rebuild its entry without the front end:

    {"function": "f", "args": ["INT"], "ret": "INT", "symbol": "fi_m_f_0_0", "shape": "int_int",
     "nests": false, "log_free": true, "leaf": true, "object": "unit:0", "numpy": null | "2.3.1",
     "objects": [["fi_unit_0.obj.0", "attr:builtins:float"], ["fi_unit_0.obj.1", "ref:2"]],
     "world": [{"ns": "globals", "name": "N", "kind": "value", "type": "INT", "slot": "..."},
               {"ns": "globals", "name": "helper", "kind": "callable", "function": "helper"},
               {"ns": "builtins", "name": "abs", "kind": "callable", "object": "attr:builtins:abs"},
               {"ns": "defaults", "name": "g", "kind": "defaults", "ref": 1, "values": [["int", "3"]]}],
     "callees": [["helper", "(int) -> int"]]}

Loading checks every global the unit was compiled against is bound the same way now (the
entry's world check would send every call to bytecode otherwise): values of the same type,
the same builtins and library objects (by name: runtime/objnames.py), and for the unit's
compiled callees a function compiled by fastimport from the same source (`function`: its
name in this module, whose source hash the artifact's header fixes). Anything that does
not fit makes `load` return None, and the caller compiles.

The first unit loaded from an artifact places the code of all its units and their shapes
in one mapping (runtime/linker.py `place_module`): a module's functions are usually all
called, and one placement costs little more than one unit's.
"""

from __future__ import annotations

import functools
import math
import os
import sys

from fastimport.backend.objload import ObjectFormatError
from fastimport.config import ConfigError, active_config, reassociates
from fastimport.frontend.types import Ty, type_from_json, type_to_json
from fastimport.runtime import cachedir, linker, pym
from fastimport.runtime.debug import log
from fastimport.runtime.funcobject import code_extra, layout, make_builtin
from fastimport.runtime.native import (
    CompiledEntry,
    DataBlock,
    Namespaces,
    builtins_of,
    fill_unit_vectorcall,
    world_table,
)
from fastimport.runtime.objnames import UnknownObjectError, resolve

TYPE_CHECKING = False  # importing typing costs ~2 ms of a warm run
if TYPE_CHECKING:
    import types
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

    from fastimport.backend.objload import LoadedObject
    from fastimport.frontend.types import Type
    from fastimport.runtime.dispatch import FunctionState
    from fastimport.runtime.pym import Artifact

META = "meta"
RUNTIME = "runtime"
CODE = "code"  # the units' and the shapes' images, merged (backend/objgroup.py)
MAX_UNITS = 256  # per module artifact: the oldest units go first


class Unloadable(Exception):  # noqa: N818 - a reason, caught where the unit is skipped
    """This unit cannot be loaded in this process (the reason is the message)."""


class _Ref:
    """A GlobalRef rebuilt from an artifact (the attributes `world_table` reads)."""

    def __init__(  # noqa: PLR0913 - GlobalRef's fields and the slot
        self,
        namespace: str,
        name: str,
        kind: str,
        expected: object = None,
        *,
        type_: Type | None = None,
        slot: str = "",
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.kind = kind
        self.expected = expected
        self.type = type_
        self.slot = slot  # a value's: the symbol of the unit's slot it is unboxed into


# --- this process's artifacts, by file -----------------------------------------------------


_DECODED: dict[str, tuple[str, Artifact | None]] = {}  # path -> (source hash, the artifact if it fits)


_PATHS: dict[tuple[str, str, Path], Path] = {}


def artifact_path(state: FunctionState) -> Path | None:
    """Where the artifact of `state`'s module goes (None: caching is off or impossible here)."""
    if state.source is None:
        return None

    try:
        tree = cachedir.cache_tree(active_config())
    except ConfigError:
        return None
    if tree is None:
        return None
    key = (state.module, state.path, tree)
    if key not in _PATHS:
        _PATHS[key] = tree / cachedir.artifact_name(state.module, state.path)
    return _PATHS[key]


def _read(path: Path, state: FunctionState) -> Artifact | None:
    """The artifact at `path` if it is valid and fits this process and `state`'s source, else None.

    Decoded once per path and source: a module reloaded with another source reads it again.
    """
    key, source = str(path), _source_sha(state)
    known = _DECODED.get(key)
    if known is not None and known[0] == source:
        return known[1]

    artifact = None
    try:
        data = path.read_bytes()
    except OSError:
        data = None
    if data is not None:
        try:
            artifact = pym.decode(data)
            why = _misfit(artifact, state)
            if why is not None:
                artifact = None
                log(f"{path.name} is stale ({why}): compiling again")
            else:
                _units(artifact)  # present and readable
        except pym.PymVersionError as e:  # another fastimport's: not damaged, only stale
            artifact = None
            log(f"{path.name} is stale ({e}): compiling again")
        except (pym.PymError, KeyError, TypeError, ValueError) as e:
            artifact = None
            shipped = path.parent.name == "__pycache__"
            what = "shipped artifact" if shipped else "cache file"
            cachedir.warn_once(f"ignoring a damaged {what} {path} ({e}){'' if shipped else '; it is rewritten'}")
    _DECODED[key] = (source, artifact)
    return artifact


def fits(path: Path, state: FunctionState) -> bool:
    """Whether the artifact at `path` is valid and was made from `state`'s present source (runtime/ahead.py)."""
    return _read(path, state) is not None


_SHAS: dict[int, tuple[bytes, str]] = {}


def _source_sha(state: FunctionState) -> str:
    """The SHA-256 of the source `state` was parsed from (computed once per source)."""
    source = state.source or b""
    known = _SHAS.get(id(source))
    if known is None or known[0] is not source:
        known = _SHAS[id(source)] = (source, pym.source_hash(source))
    return known[1]


_METAS: dict[int, tuple[Artifact, dict[str, Any]]] = {}


def _meta(artifact: Artifact) -> dict[str, Any]:
    """The artifact's `meta` section, parsed once."""
    known = _METAS.get(id(artifact))
    if known is None or known[0] is not artifact:
        meta = pym.load_plain(artifact.sections[META])
        if not isinstance(meta, dict):
            raise TypeError("meta is not a dict")
        known = _METAS[id(artifact)] = (artifact, meta)
    return known[1]


def _units(artifact: Artifact) -> list[Any]:
    units = _meta(artifact)["units"]
    if not isinstance(units, list):
        raise TypeError("units is not a list")
    return units


def _misfit(artifact: Artifact, state: FunctionState) -> str | None:

    why = pym.mismatch(artifact, cachedir.environment(state.module, _source_sha(state)))
    if why is None and artifact.header.get("unnamed_features") and artifact.header.get("host") != cachedir.host_id():
        why = "compiled on another CPU, with features this one's /proc/cpuinfo does not name"
    return why


# --- loading ---------------------------------------------------------------------------------


def load(state: FunctionState, func: types.FunctionType, args: tuple[Type, ...], prev: Any) -> CompiledEntry | None:  # noqa: ANN401
    """The entry for `func` and argument types `args` from an artifact, or None.

    The platform cache first, then what the module's package ships beside it (a variant
    tuned to this CPU, if it fits, then the portable baseline).
    """
    wanted = [type_to_json(t) for t in args]
    for path in _candidates(state):
        artifact = _read(path, state)
        if artifact is not None:
            entry = _load_from(artifact, wanted, state, func, prev)
            if entry is not None:
                log(f"{state.module}.{state.node.name}: loaded from {path} ({artifact.header['cpu']})")
                return entry
    return None


def _candidates(state: FunctionState) -> Iterator[Path]:
    """The platform cache's path, then the shipped ones (only worked out if the cache has no entry)."""
    cached = artifact_path(state)
    if cached is not None:
        yield cached
    if state.source is not None and cachedir.supported():
        yield from _shipped_paths(state.path)


_SHIPPED: dict[str, list[Path]] = {}


def _shipped_paths(source: str) -> list[Path]:
    """Where a package ships the artifacts of module file `source`: the host-tuned variant, then the baseline."""
    paths = _SHIPPED.get(source)
    if paths is None:
        from pathlib import Path

        from fastimport.config import shipped_pym

        paths = _SHIPPED[source] = [Path(shipped_pym(source, "host")), Path(shipped_pym(source))]
    return paths


def _load_from(
    artifact: Artifact,
    wanted: list[Any],
    state: FunctionState,
    func: types.FunctionType,
    prev: Any,  # noqa: ANN401
) -> CompiledEntry | None:
    for unit in _units(artifact):
        if isinstance(unit, dict) and unit.get("function") == state.node.name and unit.get("args") == wanted:
            try:
                return _load_unit(unit, artifact, state, func, prev)
            except (Unloadable, AttributeError, KeyError, TypeError, ValueError, IndexError) as e:
                log(f"{state.module}.{state.node.name}: cached unit not used ({type(e).__name__}: {e})")
                return None
    return None


def _load_unit(
    unit: dict[str, Any],
    artifact: Artifact,
    state: FunctionState,
    func: types.FunctionType,
    prev: Any,  # noqa: ANN401
) -> CompiledEntry:

    if unit.get("reassociate", False) is not reassociates():
        raise Unloadable("compiled with another [tool.fastimport] reassociate setting")
    if unit.get("numpy") is not None:
        numpy = sys.modules.get("numpy")
        if numpy is None or numpy.__version__ != unit["numpy"]:
            raise Unloadable(f"compiled against NumPy {unit['numpy']}")
    names = Namespaces(func.__globals__, builtins_of(func), _modules(unit["world"]))
    refs = [_ref(record, names, state) for record in unit["world"]]
    for ref, record in zip(refs, unit["world"], strict=True):
        if ref.kind == "defaults":
            ref.expected = _defaults(record, refs)
    objects = {symbol: _object(name, refs) for symbol, name in unit["objects"]}
    try:
        linker.place_runtime(artifact.sections[RUNTIME], lambda: _shared_objects(artifact, RUNTIME))
        shape, code = _placed(artifact, unit)
        linker.fill(code, objects)
    except ObjectFormatError as e:
        raise Unloadable(str(e)) from None
    kernel = code.symbols[unit["symbol"]]
    slots = {record["slot"]: code.symbols[record["slot"]] for record in unit["world"] if record["kind"] == "value"}
    # Every global slot in the code needs its value record: a slot none fills would read as 0
    # (a wrong result, where a world list that lost a record must be a refusal).
    unfilled = sorted(s for s in code.symbols if _is_global_slot(s) and s not in slots)
    if unfilled:
        raise Unloadable(f"global slots without a world record: {', '.join(unfilled)}")
    log_free, leaf = unit.get("log_free", False), unit.get("leaf", False)  # (absent: written before they existed)
    if not isinstance(log_free, bool) or not isinstance(leaf, bool):
        raise Unloadable(f"log_free is {log_free!r}, leaf is {leaf!r}")
    world = world_table(refs, names, lambda ref: slots[ref.slot])  # type: ignore[attr-defined, arg-type]
    data = DataBlock(
        kernel=kernel,
        world=ctypes_address(world) if refs else None,
        world_count=len(refs),
        handler=id(state),
        nests=bool(unit["nests"]),
        log_free=log_free,
        prev_core=prev.core_address if prev is not None else None,
        prev_data=ctypes_address(prev.data) if prev is not None else None,
    )
    name = unit["shape"]
    function, method = make_builtin(func.__name__, shape.symbols[f"fi_fastcall_{name}"], data)
    vectorcall = shape.symbols.get(f"fi_vc_{name}", 0) if layout() is not None and code_extra() is not None else 0
    own, code_slot = fill_unit_vectorcall(lambda s: code.symbols.get(s, 0), unit["symbol"], data, vectorcall)
    for callee, signature in unit["callees"]:
        _note_callee(state, callee, signature)
    return CompiledEntry(
        function=function,
        ret_type=type_from_json(unit["ret"]),
        symbol=unit["symbol"],
        data=data,
        core_address=shape.symbols[f"fi_core_{name}"],
        vectorcall_address=own or vectorcall,
        code_slot=code_slot,
        args=tuple(type_from_json(t) for t in unit["args"]),
        leaf=leaf,
        keepalive=[method, world, names, refs, objects],
        origin="shipped" if artifact.header.get("origin") == "shipped" else "cache",
    )


class _Placement:
    """A decoded artifact's code placed in this process: its members by name, and what is given out."""

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact
        self.loaded = _place(artifact)
        self.claimed: set[str] = set()  # units whose slots a function's entry already uses
        self.filled: set[str] = set()  # shapes whose object tables are filled


_PLACEMENTS: dict[int, _Placement] = {}


def _is_global_slot(symbol: str) -> bool:
    """Whether `symbol` is a unit's global slot (`fi_unit_<k>.g.<namespace>.<name>`: emit.global_slot_name)."""
    head, sep, _ = symbol.partition(".g.")
    return bool(sep) and head.startswith("fi_unit_") and head[len("fi_unit_") :].isdigit()


def _placed(artifact: Artifact, unit: dict[str, Any]) -> tuple[LoadedObject, LoadedObject]:
    """(the unit's shape, the unit's code), placed: the whole module's code at the first use of any unit.

    A copy of a unit's code serves one function: its entry unboxes value globals into slots
    in that code at every call, and a running loop offers the GIL, so a unit loaded again
    (the module reloaded or run twice) gets a copy of its own (of the whole module's code:
    this is rare, and the code is small).
    """
    placement = _PLACEMENTS.get(id(artifact))
    if placement is None or placement.artifact is not artifact:
        placement = _PLACEMENTS[id(artifact)] = _Placement(artifact)
    code, shape = unit["object"], "shape:" + unit["shape"]
    loaded, filled = placement.loaded, placement.filled
    if code in placement.claimed:
        loaded, filled = _place(artifact), set()
    else:
        placement.claimed.add(code)
    if code not in loaded or shape not in loaded:
        raise Unloadable(f"no member {code} or {shape} in the artifact's code")
    if shape not in filled:  # (at its first use: a shape of NumPy units names NumPy's objects)
        linker.fill(loaded[shape], _shared_objects(artifact, shape))
        filled.add(shape)
    return loaded[shape], loaded[code]


def _place(artifact: Artifact) -> dict[str, LoadedObject]:
    """The artifact's code (its units' and shapes'), placed in one mapping: an object per member."""
    return linker.place_module(artifact.sections[CODE], _meta(artifact)["members"])


def _modules(world: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The dicts behind "module:<name>" namespaces: math, numpy, and the modules of callees from other modules."""
    modules = {"math": vars(math)}
    if "numpy" in sys.modules:
        modules["numpy"] = vars(sys.modules["numpy"])
    for record in world:
        owner = record["ns"].partition("module:")[2]
        if owner and owner not in modules:
            if owner not in sys.modules:
                raise Unloadable(f"module {owner} is not imported")
            modules[owner] = vars(sys.modules[owner])
    return modules


def ctypes_address(obj: object) -> int:
    """The address of a ctypes object."""
    import ctypes

    return ctypes.addressof(obj)  # type: ignore[arg-type]


def _ref(record: dict[str, Any], names: Namespaces, state: FunctionState) -> _Ref:
    """A world record's ref, checked against the globals as they are now."""
    kind, namespace, name = record["kind"], record["ns"], record["name"]
    if kind == "defaults":
        return _Ref(namespace, name, kind)
    try:
        current = names.lookup(namespace).get(name, _MISSING)
    except KeyError:
        raise Unloadable(f"no namespace {namespace}") from None
    if kind == "value":
        ty = type_from_json(record["type"])
        if type(current) is not {Ty.INT: int, Ty.FLOAT: float, Ty.BOOL: bool}.get(ty):  # type: ignore[call-overload]
            raise Unloadable(f"global {name} is a {type(current).__name__} now")
        return _Ref(namespace, name, kind, type_=ty, slot=record["slot"])
    if "function" in record:
        expected = _compiled_function(current, record, state)
    else:
        try:
            expected = resolve(record["object"])
        except UnknownObjectError as e:
            raise Unloadable(str(e)) from None
        if namespace.startswith("builtins") and name in names.shadowing(namespace):
            raise Unloadable(f"builtin {name} is shadowed by a global")
    if current is not expected:
        raise Unloadable(f"{name} is bound to another object now")
    return _Ref(namespace, name, kind, expected)


_MISSING = object()


def _compiled_function(current: object, record: dict[str, Any], state: FunctionState) -> object:
    """`current` if it is the function fastimport compiles from the source the unit was compiled against.

    Of this module (the artifact's source hash fixes it), or of another module whose source
    hash the record holds (editing that module means compiling the unit again).
    """
    from fastimport.runtime.dispatch import state_of

    callee = state_of(current)
    name = record["function"]
    module = record.get("module", state.module)
    if callee is None or (callee.node.name, callee.module) != (name, module):
        raise Unloadable(f"{name} is not the compiled function it was")
    same_source = callee.source == state.source if module == state.module else None
    if same_source is None:
        same_source = _source_sha(callee) == record.get("source_sha256")
    if not same_source:
        raise Unloadable(f"the source of {module}.{name} has changed")
    return current


def _defaults(record: dict[str, Any], refs: list[_Ref]) -> tuple[object, tuple[object, ...]]:
    """(the function, its __defaults__) if its defaults are still the values compiled in."""
    func = refs[record["ref"]].expected
    defaults = getattr(func, "__defaults__", None) or ()
    if [_default_json(value) for value in defaults] != record["values"]:
        raise Unloadable(f"the defaults of {record['name']} have changed")
    return func, defaults


def _default_json(value: object) -> list[str]:
    """A default value as [type, exact text] (floats in hex: -0.0 and nan are kept apart from 0.0)."""
    if type(value) is float:
        return ["float", value.hex()]
    return [type(value).__name__, repr(value)]


def _object(name: str, refs: list[_Ref]) -> object:
    """The object an object-table slot names: a library object, or a world ref's (`ref:<k>`)."""
    if name.startswith("ref:"):
        return refs[int(name.removeprefix("ref:"))].expected

    try:
        return resolve(name)
    except UnknownObjectError as e:
        raise Unloadable(str(e)) from None


def _shared_objects(artifact: Artifact, section: str) -> dict[str, object]:
    """The object table of a shared section (the runtime's or a shape's): library objects only."""
    tables = _meta(artifact).get("shared", {})
    try:
        return {symbol: resolve(name) for symbol, name in tables.get(section, [])}
    except UnknownObjectError as e:
        raise Unloadable(str(e)) from None


def _note_callee(state: FunctionState, callee_name: str, signature: str) -> None:
    """Tell the report that `callee_name` runs natively inside this unit."""
    namespace = state.func.__globals__ if state.func is not None else {}
    from fastimport.runtime.dispatch import state_of

    callee = state_of(namespace.get(callee_name))
    if callee is not None:
        callee.note_native_callee(signature)


# --- saving ----------------------------------------------------------------------------------


# (path, source hash) -> (a state of the module, [(unit, its sections, shared tables)]): written by `flush`
_PENDING: dict[
    tuple[Path, str], tuple[FunctionState, list[tuple[dict[str, Any], dict[str, bytes], dict[str, Any]]]]
] = {}


def save(state: FunctionState, unit: dict[str, Any], sections: dict[str, bytes], shared: dict[str, list[Any]]) -> None:
    """Queue `unit` (with its object code and the shared sections it needs) for the module's artifact.

    The file is written by `flush`, at exit (or when asked): a compile does not wait for
    the disk, and a module's units are written together.
    """
    path = artifact_path(state)
    if path is None:
        return
    if not _PENDING:
        import atexit

        atexit.register(flush)
    # Per source too: a module reloaded with another source queues units that must not be
    # written under the first source's hash.
    _PENDING.setdefault((path, _source_sha(state)), (state, []))[1].append((unit, sections, shared))


def flush() -> None:
    """Write every queued unit into its module's artifact. Never raises: an unwritable cache costs one warning."""
    while _PENDING:
        (path, _), (state, queued) = _PENDING.popitem()
        try:
            _write_units(path, state, queued)
        except OSError as e:
            cachedir.warn_once(f"cannot write {path} ({e}); running without the .pym cache")
        except Exception as e:  # noqa: BLE001 - at exit too: a program's output and status stay CPython's
            from fastimport.runtime.debug import internal_error

            internal_error(f"writing {path}", e)


def _write_units(path: Path, state: FunctionState, queued: list[tuple[dict[str, Any], dict[str, bytes], Any]]) -> None:
    """Merge `queued` into the artifact at `path` (a unit replaces one of the same function and types)."""
    from fastimport.backend.objdigest import digest
    from fastimport.backend.objgroup import split

    _DECODED.pop(str(path), None)  # another process may have written it since
    old = _read(path, state)
    units: list[dict[str, Any]] = []
    members: dict[str, bytes] = {}
    all_shared: dict[str, list[Any]] = {}
    runtime = b""
    if old is not None:
        meta = pym.load_plain(old.sections[META])  # a copy: the cached one may be in use
        try:
            members = split(old.sections[CODE], meta["members"])
            units, all_shared, runtime = meta["units"], meta.get("shared", {}), old.sections[RUNTIME]
        except (ObjectFormatError, KeyError, TypeError):
            members = {}  # code that does not split as its table says: the file is written anew
    for unit, sections, shared in queued:
        units = [u for u in units if (u["function"], u["args"]) != (unit["function"], unit["args"])]
        units = units[-(MAX_UNITS - 1) :]
        index = 0
        while f"unit:{index}" in members:
            index += 1
        unit = {**unit, "object": f"unit:{index}"}  # noqa: PLW2901 - the copy that is written
        members[unit["object"]] = digest(sections["unit"])
        members.update((name, digest(data)) for name, data in sections.items() if name.startswith("shape:"))
        if RUNTIME in sections:
            runtime = digest(sections[RUNTIME])
        all_shared.update(shared)
        units.append(unit)
    keep = {*(u["object"] for u in units), *("shape:" + u["shape"] for u in units)}
    data = pym.encode({**_header(state), "origin": "cache"}, _sections(units, all_shared, runtime, members, keep))
    pym.write_atomic(path, data)
    _DECODED[str(path)] = (_source_sha(state), pym.decode(data))


def _sections(
    units: list[dict[str, Any]], shared: dict[str, Any], runtime: bytes, members: dict[str, bytes], keep: set[str]
) -> dict[str, bytes]:
    """An artifact's sections: `meta`, the runtime's image, and the members in `keep` merged into one image."""
    from fastimport.backend.objgroup import merge

    code, table = merge({name: image for name, image in members.items() if name in keep})
    meta = {"units": units, "shared": shared, "members": table}
    return {META: pym.dump_plain(meta), RUNTIME: runtime, CODE: code}


def _header(state: FunctionState) -> dict[str, Any]:

    env = cachedir.environment(state.module, pym.source_hash(state.source or b""))
    # `source`: `cache prune` drops artifacts whose source is gone
    return {**env, **host_target(), "source": state.path}


@functools.cache
def host_target() -> dict[str, Any]:
    """The header fields of code compiled for this machine (what backend/jit.py compiles for)."""
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features().flatten()
    flags, unnamed = cachedir.cpuinfo_flags(features)
    return {
        "features": flags,
        "unnamed_features": unnamed,
        "host": cachedir.host_id(),
        "cpu": llvm.get_host_cpu_name(),
        "llvm_features": features,
    }


# --- describing a unit at compile time -------------------------------------------------------


def describe_unit(  # noqa: PLR0913 - what the compiler knows about the unit
    root: FunctionState,
    args: tuple[Type, ...],
    ret: Type,
    symbol: str,
    *,
    shape: str,
    nests: bool,
    log_free: bool,
    leaf: bool,
    reassociate: bool,
    objects: list[tuple[str, object]],
    refs: list[Any],
    slots: dict[int, str],
    callees: list[tuple[str, str]],
    uses_numpy: bool,
) -> dict[str, Any]:
    """The unit's `meta` entry; Unloadable if something in it has no name another process can find."""
    world = [_ref_json(index, ref, refs, slots, root) for index, ref in enumerate(refs)]
    table = [[name, _object_name(obj, refs)] for name, obj in objects]
    numpy = sys.modules.get("numpy")
    return {
        "function": root.node.name,
        "args": [type_to_json(t) for t in args],
        "ret": type_to_json(ret),
        "symbol": symbol,
        "shape": shape,
        "nests": nests,
        "log_free": log_free,
        "leaf": leaf,
        **({"reassociate": True} if reassociate else {}),  # (absent: bit-identical float arithmetic)
        "numpy": str(numpy.__version__) if uses_numpy and numpy is not None else None,
        "objects": table,
        "world": world,
        "callees": [list(c) for c in callees],
    }


def _ref_json(index: int, ref: Any, refs: list[Any], slots: dict[int, str], root: FunctionState) -> dict[str, Any]:  # noqa: ANN401
    from fastimport.runtime.dispatch import state_of

    record: dict[str, Any] = {"ns": ref.namespace, "name": ref.name, "kind": ref.kind}
    if ref.kind == "value":
        record.update(type=type_to_json(ref.type), slot=slots[index])
    elif ref.kind == "defaults":
        target, defaults = ref.expected
        holders = (k for k, r in enumerate(refs) if r.kind not in ("value", "defaults") and r.expected is target)
        owner = next(holders, None)
        if owner is None:
            raise Unloadable(f"no global holds the function whose defaults {ref.name} uses")
        record.update(ref=owner, values=[_default_json(value) for value in defaults])
    else:
        callee = state_of(ref.expected)
        if callee is not None:
            record["function"] = callee.node.name
            if callee.module != root.module:  # its module's source is part of what the unit depends on
                record.update(module=callee.module, source_sha256=_source_sha(callee))
            elif callee.source is not root.source:
                raise Unloadable(f"{ref.name} is compiled from another source")
        else:
            record["object"] = _library_name(ref.expected)
    return record


def _object_name(obj: object, refs: list[Any]) -> str:
    from fastimport.runtime.dispatch import state_of
    from fastimport.runtime.objnames import describe

    name = describe(obj) if state_of(obj) is None else None
    if name is not None:
        return name
    for index, ref in enumerate(refs):
        if ref.kind not in ("value", "defaults") and ref.expected is obj:
            return f"ref:{index}"
    raise Unloadable(f"no name for {type(obj).__name__} object {obj!r:.60}")


def _library_name(obj: object) -> str:
    from fastimport.runtime.objnames import describe

    name = describe(obj)
    if name is None:
        raise Unloadable(f"no name for {type(obj).__name__} object {obj!r:.60}")
    return name


def shared_tables(sections: list[str]) -> dict[str, list[list[str]]]:
    """The object tables of the runtime and shape sections (backend/entry.py keeps them)."""
    from fastimport.backend.entry import SHARED_OBJECTS

    return {section: library_table(SHARED_OBJECTS[section]) for section in sections}


def library_table(pairs: Any) -> list[list[str]]:  # noqa: ANN401 - (slot, object) pairs
    """`[slot, name]` for an object table of library objects only (the runtime's, a shape's)."""
    return [[slot, _library_name(obj)] for slot, obj in pairs]


def write_shipped(  # noqa: PLR0913 - the artifact's parts
    path: Path,
    state: FunctionState,
    units: list[dict[str, Any]],
    sections: dict[str, bytes],
    shared: dict[str, list[list[str]]],
    *,
    target: dict[str, Any],
) -> None:
    """Write the artifact `fastimport compile` ships beside a module (origin "shipped"; `target`: cpu, features...).

    `sections`: LLVM's ELF object code per section.
    """
    from fastimport.backend.objdigest import digest

    header = {
        **cachedir.environment(state.module, pym.source_hash(state.source or b"")),
        "llvm_features": "",
        **target,
        "source": os.path.basename(state.path),
        "origin": "shipped",
    }
    images = {name: digest(data) for name, data in sections.items()}
    keep = {name for name in images if name != RUNTIME}
    path.parent.mkdir(exist_ok=True)
    pym.write_atomic(path, pym.encode(header, _sections(units, shared, images[RUNTIME], images, keep)), mode=0o644)
    _DECODED.pop(str(path), None)
