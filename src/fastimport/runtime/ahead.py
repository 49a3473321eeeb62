"""Compiling ahead: signatures known before a function's first call are compiled then, on a thread.

    module_loaded(module)   after a module in scope ran its top level (hook/loader.py): its
                            functions are queued for the compile-ahead thread
    first_call(state)       the first call of a function of the main script (whose top level
                            is the whole program, so its end is too late): the same, then
    tier_up(state, entry)   a leaf unit's entry was called often (runtime/dispatch.py): it is
                            compiled again with a vectorcall of its own, before the queue's next
    stop()                  at exit: the compile under way finishes, the rest is dropped

The thread takes a module's functions in order. A module whose `.pym` fits its source is
not queued (its functions load at their first call in ~0.05 ms each: a warm run starts no
thread, opens no SQLite and loads no model). Otherwise each function gets, through
`FunctionState.compile_ahead` and up to the specialization bound (`_plan`):

    1. the signature its annotations give, if every parameter has one;
    2. else the signatures earlier runs observed for its present source (predict/observed.py),
       most used first; none if they only saw it called with types no code is compiled for;
    3. else the one the type predictor guesses from its code (predict/predictor.py: one batch
       per module), for a function with a loop or a call (`worth_compiling_ahead`).

While one is being compiled, calls with that signature run as bytecode: nothing waits for
the thread, except a first call that compiles another signature itself (one compile at a
time: the JIT is shared). A wrong guess costs compile time and a specialization nobody
calls, never a wrong result. The report shows each signature's origin and, in
`FunctionRecord.predicted`, what was guessed and what became of it.

The thread is started with `_thread`, not `threading`: the program must not see it (in
`threading.enumerate()`, `active_count()`), nor its `threading.settrace`/`setprofile`
functions be called for our compiler's frames. While it works, the interpreter switches
threads every FAST_SWITCH_S instead of every 5 ms (see there why); the one trace of it a
program can see is `sys.getswitchinterval()`, and a program that set its own interval
keeps it. It ends when the queue is empty, and
`stop` waits for it before the interpreter finalizes: LLVM must not be in the middle of
code generation while its static destructors run. A fork waits for the compile under way
and the thread's end (the child must not inherit a lock held by a thread it does not
have); the parent's queue goes on after it. What the thread compiled is saved at exit
like any other unit (runtime/artifacts.py), so the next run loads it. Nothing is queued,
and no thread started, when predictions are off (FASTIMPORT_PREDICT=0) and no run has
recorded observations.
"""

from __future__ import annotations

import _thread
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ast
    import types
    from typing import Any

    from fastimport.frontend.types import Ty
    from fastimport.predict.callsites import Evidence
    from fastimport.runtime.dispatch import FunctionState

JOIN_TIMEOUT_S = 60.0  # one compile is at most ~1 s; past this, exit anyway
# The interpreter's switch interval while the thread works (CPython's default is 5 ms).
# Our compiler is Python, and llvmlite's calls (ctypes) release the GIL: after each one the
# thread waits for the program to hand the GIL back, which it does only when the interval
# runs out. With 5 ms that convoy made a compile on the thread take ~4x its time, so the
# program met most of its functions before they were ready. Measured on
# examples/pipeline.py, cold, median of 11: plain python 878 ms, without predictions 991,
# with predictions 1091 at 5 ms, 934 at 0.5 ms, 875 at 0.2 ms (894 at 0.1, 874 at 0.05).
FAST_SWITCH_S = 0.0002
DEFAULT_SWITCH_S = 0.005  # CPython's; a program that chose another interval keeps it

_queue: list[FunctionState] = []
_tier_ups: list[tuple[FunctionState, Any]] = []  # (state, its entry): taken before `_queue`
_lock = _thread.allocate_lock()  # guards the queue and `_worker`
_running = _thread.allocate_lock()  # held while a thread runs: waiting for it is acquiring this
_worker: int | None = None  # the thread's ident, while there is work (a process that forks has none)
_stopping = False
_pausing = False  # a fork is under way: the thread ends after its compile, leaving the queue
_modules: set[str] = set()  # the modules queued once


def first_call(state: FunctionState) -> None:
    """A function of the main script runs for the first time: queue the script's functions defined by now.

    (Other modules are queued when their import ends; modules made some other way, as
    fastimport.testing makes them, never are.)
    """
    if state.module == "__main__" and state.module not in _modules and state.func is not None:
        module = sys.modules.get(state.module)
        if module is not None and vars(module) is state.func.__globals__:
            module_loaded(module)


def module_loaded(module: types.ModuleType) -> None:
    """Queue the compiled-function candidates `module` defines (cheap: the thread does the work)."""
    from fastimport.config import ConfigError, active_config
    from fastimport.runtime.dispatch import state_of

    try:
        config = active_config()
    except ConfigError:
        return
    if not config.ahead or _stopping or module.__name__ in _modules:
        return
    _modules.add(module.__name__)
    states = []
    for obj in list(vars(module).values()):
        state = state_of(obj)
        if state is not None and state.module == module.__name__ and obj.__name__ == state.node.name:
            if state.func is None:
                state.func = obj  # (what the first call would bind)
            states.append(state)
    if states and (config.predict or (config.cache and _observations_exist())) and not _warm(states[0]):
        with _lock:
            _queue.extend(states)
            _start()


def tier_up(state: FunctionState, entry: Any) -> None:  # noqa: ANN401
    """Queue `entry` (the newest of `state`, a leaf called TIER_UP_CALLS times) for `FunctionState.tier_up`.

    Called from native code, on the program's thread: it only queues. The thread takes
    tier-ups before the functions queued for compiling ahead.
    """
    if _stopping:
        return
    with _lock:
        _tier_ups.append((state, entry))
        _start()


_warm_modules: dict[str, bool] = {}  # module -> whether it had a fitting .pym when first asked


def _warm(state: FunctionState) -> bool:
    """Whether the module has a .pym that fits its source: its functions load at their first call (~0.05 ms).

    Checked here, not on the thread: a warm run starts no thread (a thread costs the program
    GIL hand-offs), and the first call reuses the decoded file. Asked once per module and
    process (also by predict/observed.py: a warm run records nothing).
    """
    from fastimport.runtime import artifacts, dispatch

    warm = _warm_modules.get(state.module)
    if warm is None:
        path = artifacts.artifact_path(state)
        if path is None or not path.exists():
            warm = False
        else:
            with dispatch._compile_lock():  # noqa: SLF001 - (the thread may be reading another module's)
                warm = artifacts.fits(path, state)
        _warm_modules[state.module] = warm
    return warm


def module_is_warm(state: FunctionState) -> bool:
    """Whether `state`'s module came with a fitting .pym (the run that wrote it recorded its types)."""
    return _warm(state)


def _observations_exist() -> bool:
    """Whether there is a store at all (no thread, no import of the loader, for a user who never compiled)."""
    from fastimport.predict import observed

    path = observed.database_path()
    return path is not None and path.exists()


def _start() -> None:
    """A thread for the queue, if none is running (under `_lock`)."""
    global _worker  # noqa: PLW0603 - one thread at a time
    if _worker is None:
        if not _started:
            import atexit
            import os

            atexit.register(stop)
            os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_in_child)
            _started.append(True)
        _running.acquire()  # (released by the thread as it ends; blocks until the last one has)
        _worker = _thread.start_new_thread(_run, ())


def _wait() -> None:
    """Until the thread (told to end after its compile) has ended; not from the thread itself."""
    with _lock:
        worker = _worker
    if worker is not None and worker != _thread.get_ident() and _running.acquire(timeout=JOIN_TIMEOUT_S):
        _running.release()


_started: list[bool] = []


def _before_fork() -> None:
    """No thread across a fork: it finishes the compile under way and ends; the queue waits.

    A child must not inherit a lock held by a thread it does not have, and CPython 3.12+
    warns when a process with threads forks, which a program without fastimport would not.
    """
    global _pausing  # noqa: PLW0603
    with _lock:
        _pausing = True
    _wait()
    from fastimport.runtime import dispatch

    dispatch._compile_lock().acquire()  # noqa: SLF001 - (another thread of the program may be compiling)


def _after_fork() -> None:
    """In the parent: the queue goes on."""
    global _pausing  # noqa: PLW0603
    _release()
    with _lock:
        _pausing = False
        if (_queue or _tier_ups) and not _stopping:
            _start()


def _in_child() -> None:
    """The child of a fork has no compile-ahead thread: it starts afresh, with nothing queued."""
    global _worker, _lock, _running, _pausing
    _release()
    _worker, _lock, _running, _pausing = None, _thread.allocate_lock(), _thread.allocate_lock(), False
    _queue.clear()
    _tier_ups.clear()


def _release() -> None:
    from fastimport.runtime import dispatch

    dispatch._compile_lock().release()  # noqa: SLF001


def stop() -> None:
    """Let the compile under way finish, drop the rest, and save what was compiled."""
    global _stopping  # noqa: PLW0603
    with _lock:
        _stopping = True
        _queue.clear()
        _tier_ups.clear()
    _wait()
    from fastimport.runtime import artifacts  # (its own flush may have run already: exit handlers run last first)

    artifacts.flush()


def _run() -> None:
    """Compile the queue's functions ahead, then end (the next module queued starts a new thread)."""
    global _worker  # noqa: PLW0603
    from fastimport.runtime.debug import internal_error

    faster = sys.getswitchinterval() == DEFAULT_SWITCH_S
    if faster:
        sys.setswitchinterval(FAST_SWITCH_S)
        ours = sys.getswitchinterval()  # (as the interpreter holds it: microseconds)
    try:
        while True:
            with _lock:
                if _stopping or _pausing or not (_queue or _tier_ups):
                    _worker = None
                    return
                tier_up = _tier_ups.pop(0) if _tier_ups else None
                state = _queue.pop(0) if tier_up is None else tier_up[0]
            if tier_up is not None:
                try:
                    state.tier_up(tier_up[1])
                except Exception as e:  # noqa: BLE001 - contract: never break the program
                    internal_error(f"compiling {state.module}.{state.node.name} again for its own vectorcall", e)
                continue
            try:
                if _told_first(state):
                    continue  # (the module's functions were reordered: take the new head)
                if not _compile_planned(state):
                    with _lock:
                        _queue.insert(0, state)  # paused for a fork: the rest of its signatures later
            except Exception as e:  # noqa: BLE001 - contract: never break the program
                internal_error(f"compiling {state.module}.{state.node.name} ahead", e)
    finally:
        if faster and sys.getswitchinterval() == ours:  # (unless the program set its own since)
            sys.setswitchinterval(DEFAULT_SWITCH_S)
        _running.release()


def _compile_planned(state: FunctionState) -> bool:
    """Compile what `_plan` names for `state`; False if stopped or paused before the end."""
    from fastimport.runtime import dispatch

    if state.source is None or state.entries or state.gave_up:
        return True
    for args, origin in _plan(state)[: dispatch.max_specializations()]:
        if _stopping or _pausing:
            return False
        compiled = state.compile_ahead(args, origin)  # (one already compiled, or tried by a call, is skipped)
        if origin == "predicted":
            outcomes = {True: "compiled ahead", False: "tried ahead, did not compile", None: "not needed ahead"}
            state.record.predicted = f"{state.record.predicted}: {outcomes[compiled]}"
    return True


def _plan(state: FunctionState) -> list[tuple[tuple[Ty, ...], str]]:
    """The signatures to compile ahead, with their origin: annotations, else earlier runs, else the predictor."""
    from fastimport.config import ConfigError, active_config
    from fastimport.predict import observed

    annotated = state.annotated()
    if annotated is not None:
        return [(annotated, "annotation")]
    try:
        config = active_config()
    except ConfigError:
        return []
    if config.cache and _observations_exist():
        seen = [(args, "observed") for args, _ret, _runs in observed.signatures(state)]
        if seen:
            return seen
        if observed.bytecode_calls(state):  # earlier runs called it only with types no code is compiled for
            return []
    if not config.predict:
        return []
    predicted = _predicted(state)
    return [] if predicted is None else [(predicted, "predicted")]


# id(state) -> (state, its guesses): one batch per module, made when its first function is
# planned (two batches when the call sites tell some functions' types: those, and the rest)
_guesses: dict[int, tuple[FunctionState, list]] = {}
_predictor_failed: list[str] = []
_evidence: dict[str, Evidence] = {}  # module -> what its own calls say, read once on the thread
_ordered: set[str] = set()  # the modules whose queued functions _told_first ordered


def _evidence_of(state: FunctionState) -> Evidence:
    from fastimport.predict import predictor

    if state.module not in _evidence:
        # What the module's own calls pass, and the main script's calls of its functions.
        main = _main_source() if state.module != "__main__" else None
        _evidence[state.module] = predictor.module_evidence(state.source, main, state.module)
    return _evidence[state.module]


def _main_source() -> bytes | None:
    """The main script's source: kept by the hook if it defines functions, else read from its file."""
    from fastimport.runtime import registry

    source = registry.source_of("__main__")
    if source is not None:
        return source
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _told_first(state: FunctionState) -> bool:
    """Once per module, queue first the functions whose every parameter the module's call sites tell.

    They need no model: their guesses are compiled before onnxruntime is imported (~60-100 ms
    of GIL time on this thread) for the others, and a script whose call sites tell everything
    never imports it. Puts `state` back in the queue and returns True if it reordered.
    """
    from fastimport.config import ConfigError, active_config

    if state.module in _ordered:
        return False
    _ordered.add(state.module)
    try:
        if not active_config().predict:
            return False
    except ConfigError:
        return False
    from fastimport.predict import predictor

    evidence = _evidence_of(state)
    with _lock:
        mine = [state, *(s for s in _queue if s.module == state.module)]
        told = [s for s in mine if predictor.told_everywhere(s.node, evidence)]
        rest = [s for s in mine if s not in told]
        _queue[:] = told + rest + [s for s in _queue if s.module != state.module]
    return True


def _predicted(state: FunctionState) -> tuple[Ty, ...] | None:
    """The predicted signature, if the predictor has one we compile and compiling it ahead pays.

    What was guessed and decided goes into the report (`FunctionRecord.predicted`).
    """
    from fastimport.predict import predictor

    if id(state) not in _guesses:
        if _predictor_failed:
            return None
        try:
            evidence = _evidence_of(state)
            told = predictor.told_everywhere(state.node, evidence)
            with _lock:  # (the functions the call sites tell are a batch of their own: no model)
                batch = [state]
                batch += [
                    s
                    for s in _queue
                    if s.module == state.module
                    and id(s) not in _guesses
                    and predictor.told_everywhere(s.node, evidence) == told
                ]
            guesses = predictor.predict([(s.node, False) for s in batch], evidence=evidence)
        except Exception as e:  # noqa: BLE001 - a broken predictor costs its predictions, nothing else
            from fastimport.runtime.debug import log

            _predictor_failed.append(str(e))
            log(f"no type predictions in this process: {e}")
            return None
        for s, g in zip(batch, guesses, strict=True):
            _guesses[id(s)] = (s, g)
    guesses = _guesses[id(state)][1]
    shown = predictor.shown(guesses)
    sig = predictor.signature(guesses)
    if not worth_compiling_ahead(state.node):
        state.record.predicted = f"{shown}: left to the first call (no loop, no call)"
        return None
    if sig is None:
        state.record.predicted = f"{shown}: not compiled ahead (not a signature fastimport compiles)"
        return None
    if (p := predictor.confidence(guesses)) < predictor.MIN_CONFIDENCE:
        state.record.predicted = f"{shown}: not compiled ahead (p={p:.2f} < {predictor.MIN_CONFIDENCE})"
        return None
    state.record.predicted = shown  # (what became of it is added once it is compiled)
    return sig


def worth_compiling_ahead(node: ast.FunctionDef) -> bool:
    """Whether a predicted signature goes to the thread: a function with a loop or a call.

    Measured (benchmarks/NOTES.md, "What compiling ahead pays for"): a straight-line
    function compiles in ~6 ms and runs in 50-110 ns a call as bytecode, so compiling it
    pays only after ~10^5 calls, and a wrong guess would waste the 6 ms of a core the
    program may need; a function with a loop can save seconds in its first call. A
    straight-line function is still compiled at its first call, as without predictions.
    """
    import ast

    return any(isinstance(n, (ast.For, ast.While, ast.Call, ast.ListComp, ast.GeneratorExp)) for n in ast.walk(node))
