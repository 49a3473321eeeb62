"""`python -m fastimport compile [--cpu baseline|host|both] PATH...`: .pym artifacts ahead of time.

    fastimport compile src/mypkg            every module of the package (files, directories,
    fastimport compile mypkg.kernels        or installed modules and packages by name)

For each module, every function with a signature is compiled and the artifact written
beside its source, where the loader looks for it (config.shipped_pym):

    mypkg/__pycache__/kernels.cpython-311.pym        portable baseline (x86-64-v3)
    mypkg/__pycache__/kernels.cpython-311.host.pym   tuned to this CPU (--cpu host/both)

Signatures come from annotations (every parameter `int`, `float` or `bool`), from
`[tool.fastimport.signatures]` in the pyproject.toml nearest the module and in the current
directory's project (for an installed package), in the report's notation,

    [tool.fastimport.signatures]
    "mypkg.kernels.smooth" = ["(float64[:], int)", "(float32[:], int)"]

and from the types earlier runs under fastimport observed for the same source of the
function (predict/observed.py: run the package's tests under `python -m fastimport` once,
then compile). Each compiled signature says which: `smooth(float64[:], int) [observed]`.

Each module is imported (its top-level code runs, as at any import) with the hook installed,
so its functions are seen exactly as at run time.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastimport.config import Config
    from fastimport.runtime.dispatch import FunctionState

PREDICTED = " [predicted]"  # the mark of a signature only the type predictor gave


def main(argv: list[str]) -> int:
    """Run `fastimport compile`; the exit status (1 if a module could not be imported)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fastimport compile", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, or installed module names")
    parser.add_argument(
        "--cpu",
        choices=["baseline", "host", "both"],
        default="baseline",
        help="baseline: portable x86-64-v3 (default); host: tuned to this CPU; both",
    )
    options = parser.parse_args(argv)
    from fastimport.runtime import cachedir

    if not cachedir.supported():
        print("fastimport compile: .pym artifacts are only made on Linux x86-64", file=sys.stderr)
        return 2
    try:
        targets = [target for path in options.paths for target in _targets(path)]
    except LookupError as e:
        print(f"fastimport compile: {e}", file=sys.stderr)
        return 2
    cpus = {"baseline": ["baseline"], "host": ["host"], "both": ["baseline", "host"]}[options.cpu]
    _install_for([name for name, _, _ in targets])
    totals = {"compiled": 0, "failed": 0, "dropped": 0, "unsigned": 0, "broken": 0}
    for index, (name, file, root) in enumerate(targets, 1):
        print(f"[{index}/{len(targets)}] {name}", flush=True)
        outcome = _compile_module(name, file, root, cpus)
        for key, lines in outcome.items():
            totals[key] += len(lines)
            for line in lines if key != "compiled" else ():
                print(f"    {key}: {line}")
        if outcome["compiled"]:
            print(f"    compiled: {', '.join(outcome['compiled'])}")
    print(
        f"{len(targets)} module(s): {totals['compiled']} specialization(s) compiled, {totals['failed']} not compilable,"
        f" {totals['unsigned']} function(s) without a signature, {totals['broken']} module(s) not importable"
        + (f" ({totals['dropped']} predicted signature(s) dropped: not compilable)" if totals["dropped"] else "")
    )
    return 1 if totals["broken"] else 0


# --- what to compile -------------------------------------------------------------------------


def _targets(path: str) -> list[tuple[str, Path, Path]]:
    """(module name, source file, sys.path entry) of every module `path` stands for."""
    candidate = Path(path)
    if candidate.is_file() and candidate.suffix == ".py":
        return [_module_of(candidate.resolve())]
    if candidate.is_dir():
        files = sorted(p for p in candidate.resolve().rglob("*.py") if "__pycache__" not in p.parts)
        return [_module_of(f) for f in files]
    spec = importlib.util.find_spec(path) if path.replace(".", "").isidentifier() else None
    if spec is None:
        raise LookupError(f"{path}: no such file, directory or installed module")
    if spec.submodule_search_locations:
        files = sorted(f for d in spec.submodule_search_locations for f in Path(d).rglob("*.py"))
        return [_module_of(f.resolve()) for f in files if "__pycache__" not in f.parts]
    if spec.origin is None or not spec.origin.endswith(".py"):
        raise LookupError(f"{path}: not a Python source module")
    return [_module_of(Path(spec.origin).resolve())]


def _module_of(file: Path) -> tuple[str, Path, Path]:
    """The dotted name of `file` (climbing packages with an __init__.py) and the directory above them."""
    parts = [] if file.name == "__init__.py" else [file.stem]
    directory = file.parent
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    return ".".join(parts), file, directory


def _install_for(names: list[str]) -> None:
    """The hook, with exactly these modules in scope (wherever they live) and no platform cache."""
    import fastimport
    from fastimport.config import load_config

    # (ahead=False: nothing is compiled on a thread into this process's JIT; the command compiles itself)
    config = load_config().replace(include=tuple(names), site_packages=True, cache=False, disable=False, ahead=False)
    fastimport._install(config)  # noqa: SLF001 - the same as `python -m fastimport` does


# --- compiling one module --------------------------------------------------------------------


def _compile_module(name: str, file: Path, root: Path, cpus: list[str]) -> dict[str, list[str]]:
    outcome: dict[str, list[str]] = {"compiled": [], "failed": [], "dropped": [], "unsigned": [], "broken": []}
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(name)
    except Exception as e:  # noqa: BLE001 - the user's module: report and go on
        outcome["broken"].append(f"importing {name}: {type(e).__name__}: {e}")
        return outcome
    if getattr(module, "__file__", None) is None or Path(module.__file__).resolve() != file:
        outcome["broken"].append(f"{name} imported from {getattr(module, '__file__', None)}, not {file}")
        return outcome
    from fastimport.config import load_config

    # The signatures of the module's own project, then those of the current one (which may
    # list an installed package's functions).
    config = load_config(file.parent)
    config = config.replace(signatures=config.signatures + load_config().signatures)
    units: list[tuple[Any, dict[str, Any]]] = []
    functions = _functions(module)
    known = [_signatures(state, name, config) for state, _ in functions]
    if config.predict:
        _add_predicted(functions, known, config)
    for (state, func), signatures in zip(functions, known, strict=True):
        if not signatures:
            outcome["unsigned"].append(
                f"{state.node.name} (annotate it, list it in [tool.fastimport.signatures], or run it under fastimport)"
            )
        for text, sig in signatures:
            unit = _emit(state, func, sig, text, outcome)
            if unit is not None:
                units.append(unit)
    if units:
        _write(file, units[0][0].root.state, units, cpus)
    return outcome


def _functions(module: Any) -> list[tuple[FunctionState, Any]]:  # noqa: ANN401
    from fastimport.runtime.dispatch import state_of

    found = []
    for obj in vars(module).values():
        state = state_of(obj)
        if state is not None and state.module == module.__name__ and obj.__name__ == state.node.name:
            state.func = obj
            found.append((state, obj))
    return sorted(found, key=lambda pair: pair[0].node.lineno)


def _signatures(state: FunctionState, module: str, config: Config) -> list[tuple[str, tuple[Any, ...]]]:
    """The signatures to compile, each once, with where it came from: `(int, int) [annotation]`.

    Annotations first, then `[tool.fastimport.signatures]`, then what earlier runs of this
    very function observed (predict/observed.py).
    """
    from fastimport.frontend.types import signature_str
    from fastimport.predict import observed

    found: list[tuple[str, tuple[Any, ...], str]] = []
    annotated = state.annotated()
    if annotated is not None:
        found.append((signature_str(annotated, None).partition(" ->")[0], annotated, "annotation"))
    for key, texts in config.signatures:
        if key == f"{module}.{state.node.name}":
            found += [(text, sig, "listed") for text in texts if (sig := _parse(text, key)) is not None]
    for sig, _ret, _runs in observed.signatures(state, config):
        found.append((signature_str(sig, None).partition(" ->")[0], sig, "observed"))
    first: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]]] = {}
    for text, sig, source in found:
        first.setdefault(sig, (f"{text} [{source}]", sig))
    return list(first.values())


def _add_predicted(
    functions: list[tuple[FunctionState, Any]],
    known: list[list[tuple[str, tuple[Any, ...]]]],
    config: Config,
) -> None:
    """Fill in the predictor's signature for functions nothing else gave one (one batch for the module).

    Not for a function earlier runs saw called only with types no code is compiled for (a str...).
    """
    from fastimport.frontend.types import signature_str
    from fastimport.predict import observed, predictor

    missing = [
        i
        for i, signatures in enumerate(known)
        if not signatures and not observed.bytecode_calls(functions[i][0], config)
    ]
    if not missing:
        return
    try:
        evidence = predictor.module_evidence(functions[0][0].source)  # what the module's own calls pass
        guesses = predictor.predict([(functions[i][0].node, False) for i in missing], evidence=evidence)
    except Exception as e:  # noqa: BLE001 - without the predictor, those functions stay unsigned
        print(f"    no predicted signatures: {e}", file=sys.stderr)
        return
    for i, guess in zip(missing, guesses, strict=True):
        sig = predictor.signature(guess)
        if sig is not None and predictor.confidence(guess) >= predictor.MIN_CONFIDENCE:
            known[i].append((f"{signature_str(sig, None).partition(' ->')[0]}{PREDICTED}", sig))


def _parse(text: str, key: str) -> tuple[Any, ...] | None:
    from fastimport.frontend.types import parse_signature

    try:
        return parse_signature(text)
    except ValueError as e:
        print(f"    {e} (for {key})", file=sys.stderr)
        return None


def _emit(state: FunctionState, func: Any, sig: tuple[Any, ...], text: str, outcome: dict[str, list[str]]) -> Any:  # noqa: ANN401
    from fastimport.compiler import emit_unit, unit_record
    from fastimport.frontend.errors import Unsupported
    from fastimport.runtime.artifacts import Unloadable

    # A guess that does not compile is no failure of the user's: it is dropped, and said quietly.
    failed = "dropped" if text.endswith(PREDICTED) else "failed"
    try:
        unit = emit_unit(state, func, sig, own_vectorcall=True)  # (compile time is the packager's here)
        record = unit_record(unit)
    except Unsupported as e:
        outcome[failed].append(f"{state.node.name}{text}: {e.where(state.path)}")
        return None
    except Unloadable as e:
        outcome[failed].append(f"{state.node.name}{text}: cannot be shipped ({e})")
        return None
    outcome["compiled"].append(f"{state.node.name}{text}")
    return unit, record


def _write(file: Path, state: FunctionState, units: list[tuple[Any, dict[str, Any]]], cpus: list[str]) -> None:
    from fastimport.backend.aot import BASELINE, BASELINE_FLAGS, object_code
    from fastimport.config import shipped_pym
    from fastimport.runtime import artifacts

    for cpu in cpus:
        llvm_cpu = BASELINE if cpu == "baseline" else "host"
        sections: dict[str, bytes] = {}
        records = []
        for index, (unit, record) in enumerate(units):
            sections[f"unit:{index}"] = object_code(unit.module, llvm_cpu, vectorize=unit.vectorize)
            records.append({**record, "object": f"unit:{index}"})
        shared = _shared(sorted({unit.shape for unit, _ in units}, key=lambda s: s.name), llvm_cpu, sections)
        if cpu == "baseline":
            target = {"cpu": BASELINE, "features": BASELINE_FLAGS, "unnamed_features": [], "host": ""}
        else:
            target = artifacts.host_target()
        path = Path(shipped_pym(str(file), "" if cpu == "baseline" else "host"))
        artifacts.write_shipped(path, state, records, sections, shared, target=target)
        print(f"    wrote {os.path.relpath(path)} ({cpu}: {target['cpu']}, {path.stat().st_size / 1024:.1f} KiB)")


def _shared(shapes: list[Any], cpu: str, sections: dict[str, bytes]) -> dict[str, list[list[str]]]:
    """Compile the runtime and each shape's entry code for `cpu` into `sections`; their object tables."""
    from fastimport.backend.aot import object_code
    from fastimport.backend.entry import runtime_module, shape_module
    from fastimport.runtime.artifacts import library_table

    tables = {}
    for section, (module, objects) in [
        ("runtime", runtime_module()),
        *((f"shape:{shape.name}", shape_module(shape)) for shape in shapes),
    ]:
        sections[section] = object_code(module, cpu)
        tables[section] = library_table(zip(objects.names, objects.objects, strict=True))
    return tables
