"""Run-time type recorder: the label of every parameter and return value of a target package's functions.

    env:  FASTIMPORT_RECORD_OUT=/tmp/out  FASTIMPORT_RECORD_ROOTS=/venv/.../site-packages/mpmath
    run:  PYTHONPATH=models python -m pytest -p recorder ...   (or any script: sitecustomize.py starts it)
    out:  /tmp/out/<pid>.json  {"functions": [{"file", "firstlineno", "qualname", "params": [[name, kind,
          {label: count}], ...], "returns": {label: count}, "calls": n}, ...]}

Only code objects whose file lies under one of the roots (and outside test files) are recorded, at most
`MAX_CALLS` calls each. On Python 3.12+ it uses sys.monitoring and switches off every code object it has
no more use for, so the rest of the program runs at nearly full speed; on 3.11 it falls back to
sys.setprofile. Labels come from fastimport's own `label_of`, loaded by file path so the target
environment needs no fastimport. Nothing here may break the program it watches: every callback
swallows its errors, and the data are written at exit (also on SIGTERM, e.g. from `timeout`).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import CodeType, FrameType

MAX_CALLS = 200
LABELS_FILE = Path(__file__).resolve().parents[1] / "src" / "fastimport" / "predict" / "labels.py"
_NO_RETURN_FLAGS = 0x20 | 0x80 | 0x100 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GEN
_CO_OPTIMIZED = 0x1  # set on function bodies, not on module or class bodies
_KINDS = ("posonly", "arg", "kwonly")


def start() -> bool:
    """Start recording if FASTIMPORT_RECORD_OUT and FASTIMPORT_RECORD_ROOTS are set; True if it started."""
    out = os.environ.get("FASTIMPORT_RECORD_OUT")
    roots = [r for r in os.environ.get("FASTIMPORT_RECORD_ROOTS", "").split(os.pathsep) if r]
    if not out or not roots or _Recorder.active is not None:
        return False
    label_of = _load_label_of(Path(os.environ.get("FASTIMPORT_LABELS_FILE", LABELS_FILE)))
    recorder = _Recorder(Path(out), [os.path.realpath(r) for r in roots], label_of)
    recorder.install()
    return True


def pytest_configure(config: object) -> None:  # noqa: ARG001 - pytest hook signature
    """Pytest plugin entry (`-p recorder`): start recording unless sitecustomize already did."""
    start()


def _load_label_of(path: Path) -> Callable[[object], str]:
    spec = importlib.util.spec_from_file_location("_fastimport_labels", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.label_of


class _Function:
    """What was seen of one code object."""

    __slots__ = ("calls", "code", "kinds", "names", "param_labels", "returns", "skip_returns")

    def __init__(self, code: CodeType) -> None:
        npos, nkw, nposonly = code.co_argcount, code.co_kwonlyargcount, code.co_posonlyargcount
        self.code = code
        self.names = code.co_varnames[: npos + nkw]
        self.kinds = [0 if i < nposonly else 1 if i < npos else 2 for i in range(npos + nkw)]
        self.param_labels: list[dict[str, int]] = [{} for _ in self.names]
        self.returns: dict[str, int] = {}
        self.calls = 0
        self.skip_returns = bool(code.co_flags & _NO_RETURN_FLAGS)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.code.co_filename,
            "firstlineno": self.code.co_firstlineno,
            "qualname": getattr(self.code, "co_qualname", self.code.co_name),
            "params": [[n, _KINDS[k], c] for n, k, c in zip(self.names, self.kinds, self.param_labels, strict=True)],
            "returns": self.returns,
            "calls": self.calls,
        }


class _Recorder:
    active: _Recorder | None = None

    def __init__(self, out: Path, roots: list[str], label_of: Callable[[object], str]) -> None:
        self.out = out
        self.roots = tuple(r.rstrip(os.sep) + os.sep for r in roots)
        self.label_of = label_of
        # keyed by id(code): hashing a code object is not cached; the dicts keep the codes alive
        self.functions: dict[int, _Function] = {}
        self.tests_too = os.environ.get("FASTIMPORT_RECORD_TESTS") == "1"
        self.ignored: dict[int, CodeType] = {}
        self.busy = threading.local()

    # -- selection ---------------------------------------------------------------------------------

    def _wanted(self, code: CodeType) -> bool:
        if code.co_name.startswith("<") or not code.co_flags & _CO_OPTIMIZED:  # <lambda>, <genexpr>, class bodies
            return False
        filename = code.co_filename
        if not filename.startswith(self.roots):
            try:
                filename = os.path.realpath(filename)
            except (OSError, ValueError):
                return False
            if not filename.startswith(self.roots):
                return False
        base = os.path.basename(filename)
        if self.tests_too:  # (collect.py keeps only the reference functions of test files)
            return base.endswith(".py")
        return not (
            f"{os.sep}tests{os.sep}" in filename
            or f"{os.sep}testing{os.sep}" in filename
            or base.startswith("test_")
            or base == "conftest.py"
            or not base.endswith(".py")
        )

    def _function(self, code: CodeType) -> _Function | None:
        fn = self.functions.get(id(code))
        if fn is None:
            if id(code) in self.ignored:
                return None
            if not self._wanted(code):
                self.ignored[id(code)] = code
                return None
            fn = self.functions[id(code)] = _Function(code)
        return fn

    # -- observing ---------------------------------------------------------------------------------

    def on_call(self, code: CodeType, frame: FrameType) -> bool:
        """Record one call's parameters; False once the code object needs no more watching."""
        fn = self._function(code)
        if fn is None or fn.calls >= MAX_CALLS:
            return False
        if getattr(self.busy, "on", False):
            return True
        self.busy.on = True
        try:
            fn.calls += 1
            values = frame.f_locals
            for name, counts in zip(fn.names, fn.param_labels, strict=True):
                if name in values:
                    label = self._label(values[name])
                    counts[label] = counts.get(label, 0) + 1
        finally:
            self.busy.on = False
        return True

    def on_return(self, code: CodeType, value: object) -> bool:
        """Record one return value; False once this code object's returns need no more watching."""
        fn = self.functions.get(id(code))
        if fn is None or fn.skip_returns or sum(fn.returns.values()) >= MAX_CALLS:
            return False
        if getattr(self.busy, "on", False):
            return True
        self.busy.on = True
        try:
            label = self._label(value)
            fn.returns[label] = fn.returns.get(label, 0) + 1
        finally:
            self.busy.on = False
        return True

    def _label(self, value: object) -> str:
        try:
            return self.label_of(value)
        except BaseException:  # noqa: BLE001 - a strange object must not break the program under test
            return "other"

    # -- plumbing ----------------------------------------------------------------------------------

    def install(self) -> None:
        _Recorder.active = self
        if hasattr(sys, "monitoring"):
            self._install_monitoring()
        else:
            self._install_profile()
        atexit.register(self.write)
        os.register_at_fork(after_in_child=self.functions.clear)  # a forked child reports only its own calls
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._chain_signal(sig)

    def _install_monitoring(self) -> None:
        mon = sys.monitoring
        tool = next(t for t in (mon.PROFILER_ID, 4, 3, 1) if mon.get_tool(t) is None)
        mon.use_tool_id(tool, "fastimport-recorder")
        disable = mon.DISABLE

        def py_start(code: CodeType, _offset: int) -> object:
            try:
                if self.on_call(code, sys._getframe(1)):  # noqa: SLF001 - the frame being started
                    return None
            except Exception:  # noqa: BLE001
                return None
            return disable

        def py_return(code: CodeType, _offset: int, value: object) -> object:
            try:
                if self.on_return(code, value):
                    return None
            except Exception:  # noqa: BLE001
                return None
            return disable

        mon.register_callback(tool, mon.events.PY_START, py_start)
        mon.register_callback(tool, mon.events.PY_RETURN, py_return)
        mon.set_events(tool, mon.events.PY_START | mon.events.PY_RETURN)

    def _install_profile(self) -> None:
        done: set[int] = set()  # ids of codes that are ignored or have all the calls and returns they need

        def profile(frame: FrameType, event: str, arg: object) -> None:
            try:
                code = frame.f_code
                if id(code) in done:
                    return
                if event == "call":
                    if not self.on_call(code, frame) and id(code) in self.ignored:
                        done.add(id(code))
                elif event == "return" and not self.on_return(code, arg):
                    fn = self.functions.get(id(code))
                    if fn is not None and fn.calls >= MAX_CALLS:
                        done.add(id(code))
            except Exception:  # noqa: BLE001, S110 - never break the program under test
                pass

        threading.setprofile(profile)
        sys.setprofile(profile)

    def _chain_signal(self, sig: signal.Signals) -> None:
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: FrameType | None) -> None:
            self.write()
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, handler)

    def write(self) -> None:
        """Write this process's observations to <out>/<pid>.json (again, whole, if called again)."""
        try:
            functions = [fn.to_json() for fn in list(self.functions.values()) if fn.calls]
            if not functions:
                return
            self.out.mkdir(parents=True, exist_ok=True)
            path = self.out / f"{os.getpid()}.json"
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"functions": functions}))
            tmp.replace(path)
        except Exception:  # noqa: BLE001, S110 - never break the program under test
            pass
