"""The command line: run a script or module like `python` does, with fastimport's hook installed.

    python -m fastimport [--report[=FILE.json]] script.py [args ...]
    python -m fastimport [--report[=FILE.json]] -m package.module [args ...]
    python -m fastimport cache {info,clear,prune}      (the .pym cache: cachecmd.py)
    python -m fastimport compile [--cpu ...] PATH...   (.pym ahead of time: aotcmd.py)

Everything after the script name (or after `-m module`) belongs to the program, even
`--report`. The program runs as CPython would run it (see `Lib/runpy.py`): `__name__`,
`__file__`, `__spec__`, `sys.argv` and `sys.path[0]` as plain `python` sets them, the same
exit status, and the same traceback for an uncaught exception (fastimport's own frames are
cut off). The main script is compiled with `transform_source`; later imports go through the
finder. Start-up stays cheap: nothing here imports the compiler's backend.
"""

from __future__ import annotations

import os
import sys

# Not `from typing import TYPE_CHECKING`: importing typing costs ~6 ms of every start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from importlib.machinery import ModuleSpec
    from types import CodeType, ModuleType
    from typing import Literal

    from fastimport.config import Config

_USAGE = "%(prog)s [--report[=FILE.json]] (script.py | -m module | -) [args ...]"


def create_parser() -> argparse.ArgumentParser:
    """The parser for the options that come before the script or `-m module`."""
    import argparse  # only when options are given

    from fastimport import __version__

    parser = argparse.ArgumentParser(
        prog="python -m fastimport",
        usage=_USAGE,
        description="Run a Python program with fastimport: eligible functions run native code.",
        epilog="subcommands: cache {info,clear,prune} (the .pym cache); compile PATH... (.pym ahead of time)",
    )
    parser.add_argument("--version", action="version", version=f"fastimport {__version__}")
    parser.add_argument(
        "--report",
        nargs="?",
        const=True,
        metavar="FILE.json",
        help="at exit, print a table of functions to stderr; --report=FILE.json writes them as JSON instead"
        " (the file name needs the '=': the next word is the script)",
    )
    parser.add_argument("-m", dest="module", metavar="module", help="run a module as a script, like python -m")
    parser.add_argument("script", nargs="?", help="the program to run ('-' reads it from stdin)")
    parser.add_argument("args", nargs="*", help="arguments passed to the program as sys.argv[1:]")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m fastimport` and the `fastimport` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    return _cmd_run(argv)


def _cmd_run(argv: list[str]) -> int:
    from fastimport.config import ConfigError, load_config

    head, rest = _split_argv(argv)
    options = create_parser().parse_args(head) if head else None
    module = options.module if options else None
    if module is None and not rest:
        create_parser().error("a script (or -m module) to run is required")
    if options is not None and options.report == "":
        create_parser().error("--report=FILE.json needs a file name")
    target = module if module is not None else rest[0]
    program_args = rest if module is not None else rest[1:]
    start_dir = os.getcwd() if module is not None or target == "-" else os.path.dirname(os.path.abspath(target))
    try:
        config = load_config(start_dir)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    if options is not None and options.report is not None:
        config = _with_report(config, options.report)

    _install(config)
    if module is not None:
        return _run_module(module, program_args, config)
    return _run_script(target, program_args, config)


def _cmd_cache(argv: list[str]) -> int:
    from fastimport.cachecmd import main as cache_main

    return cache_main(argv)


def _cmd_compile(argv: list[str]) -> int:
    from fastimport.aotcmd import main as compile_main

    return compile_main(argv)


# `cache`: inspect and clean the .pym cache (cachecmd.py); `compile`: build .pym artifacts ahead
# of time (aotcmd.py). A script that happens to be named like a subcommand can still be run as
# `./cache`.
SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {
    "cache": _cmd_cache,
    "compile": _cmd_compile,
}


def _split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split at the program: ([fastimport options], [script, *args]) or ([..., -m, mod], [*args])."""
    for i, arg in enumerate(argv):
        if arg == "--":
            return argv[:i], argv[i + 1 :]
        if arg == "-m":
            return argv[: i + 2], argv[i + 2 :]
        if arg.startswith("-m"):  # -mpackage.module, like python
            return argv[: i + 1], argv[i + 1 :]
        if arg == "-" or not arg.startswith("-"):
            return argv[:i], argv[i:]
    return argv, []


def _with_report(config: Config, report: Literal[True] | str) -> Config:
    # Absolute as Path.absolute makes it (`..` kept: through a symlink it may not cancel).
    return config.replace(report=True if report is True else os.path.join(os.getcwd(), report))


def _install(config: Config) -> None:
    if config.disable:
        if config.report:
            from fastimport.runtime.report import report_at_exit

            report_at_exit(config.report)
        return
    import fastimport

    fastimport._install(config)  # noqa: SLF001 - `fastimport.install` may be the submodule


# --- running the program (after Lib/runpy.py) -----------------------------------------------


def _run_script(script: str, args: list[str], config: Config) -> int:
    if script == "-":
        return _run_source(sys.stdin.buffer.read(), None, [script, *args], "", config)
    path = os.path.abspath(script)
    if os.path.isdir(path) or _is_zip(path):
        return _run_main_of(path, [script, *args])
    if path.endswith((".pyc", ".pyo")):
        return _run_path(path, [script, *args])
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        print(f"{sys.executable}: can't open file {path!r}: [Errno {e.errno}] {e.strerror}", file=sys.stderr)
        return 2
    return _run_source(source, path, [script, *args], os.path.dirname(os.path.realpath(path)), config)


def _run_source(source: bytes, file: str | None, argv: list[str], path0: str, config: Config) -> int:
    """Run `source` (from `file`, or stdin if None) as a fresh `__main__`, as `python script.py` does."""
    from importlib.machinery import SourceFileLoader

    main = _fresh_main()
    if file is not None:
        main.__dict__.update(__loader__=SourceFileLoader("__main__", file), __file__=file, __cached__=None)
    sys.argv[:] = argv
    _set_path0(path0)
    try:
        code = _compile_main(source, file or "<stdin>", config)
    except (SyntaxError, ValueError) as e:
        return _print_uncaught(e, None)
    return _exec_main(code, main)


def _run_module(name: str, args: list[str], config: Config) -> int:
    """Run module `name` as `__main__`, the way `python -m name` does."""
    from fastimport.hook.loader import FastSourceLoader

    main = _fresh_main()
    sys.argv[:] = ["-m", *args]
    _set_path0(os.getcwd())
    try:
        spec = _find_main_spec(name)
    except _NoModuleError as e:
        sys.exit(f"{sys.executable}: {e}")
    loader = spec.loader
    try:
        if isinstance(loader, FastSourceLoader) and spec.origin is not None:
            code = _compile_main(loader.get_data(spec.origin), spec.origin, config)
        else:
            code = loader.get_code(spec.name)  # type: ignore[union-attr]
    except SyntaxError as e:
        return _print_uncaught(e, None)
    except ImportError as e:
        sys.exit(f"{sys.executable}: {e}")
    if code is None:
        sys.exit(f"{sys.executable}: No code object available for {spec.name}")
    main.__dict__.update(
        __file__=spec.origin,
        __cached__=spec.cached,
        __loader__=loader,
        __package__=spec.parent,
        __spec__=spec,
    )
    sys.argv[0] = spec.origin or name
    return _exec_main(code, main)


def _run_main_of(path: str, argv: list[str]) -> int:
    """A directory or zip file: run its `__main__` module, as CPython does."""
    import runpy

    _fresh_main()
    sys.argv[:] = argv
    _set_path0(path, force=True)  # __main__ is imported from there, even under -P
    runpy._run_module_as_main("__main__", alter_argv=False)  # type: ignore[attr-defined]  # noqa: SLF001 - what CPython calls
    return 0


def _run_path(path: str, argv: list[str]) -> int:
    """A compiled .pyc file: not rewritten, run as CPython would."""
    import runpy

    sys.argv[:] = argv
    _set_path0(os.path.dirname(os.path.realpath(path)))
    runpy.run_path(path, run_name="__main__")
    return 0


def _compile_main(source: bytes, filename: str, config: Config) -> CodeType:
    if config.disable:
        return compile(source, filename, "exec", dont_inherit=True)
    from fastimport.frontend.transform import transform_source

    return transform_source(source, filename, "__main__")


def _exec_main(code: CodeType, main: ModuleType) -> int:
    try:
        exec(code, main.__dict__)  # noqa: S102 - running the user's program is the point
    except (SystemExit, KeyboardInterrupt):
        # CPython's own handling is the reference: exit status, message, SIGINT exit.
        raise
    except BaseException as e:  # noqa: BLE001 - reported exactly like an uncaught exception
        return _print_uncaught(e, code)
    return 0


def _print_uncaught(exc: BaseException, code: CodeType | None) -> int:
    """Print `exc` as CPython prints an uncaught exception, without fastimport's frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code is not code:
        tb = tb.tb_next
    exc.__traceback__ = tb
    sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = exc
    try:
        sys.excepthook(type(exc), exc, tb)
    except BaseException as hook_error:  # noqa: BLE001 - as CPython does when the hook fails
        print("Error in sys.excepthook:", file=sys.stderr)
        sys.__excepthook__(type(hook_error), hook_error, hook_error.__traceback__)
        print("\nOriginal exception was:", file=sys.stderr)
        sys.__excepthook__(type(exc), exc, tb)
    return 1


class _NoModuleError(Exception):
    """The `-m` target cannot be run; str() is CPython's message."""


def _find_main_spec(name: str) -> ModuleSpec:
    """The spec `python -m name` would run (runpy._get_module_details, minus the code)."""
    import importlib.util

    if name.startswith("."):
        raise _NoModuleError("Relative module names not supported")
    _import_parent(name.rpartition(".")[0])
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, AttributeError, TypeError, ValueError) as e:
        message = f"Error while finding module specification for {name!r} ({type(e).__name__}: {e})"
        if name.endswith(".py"):
            message += f". Try using '{name[:-3]}' instead of '{name}' as the module name."
        raise _NoModuleError(message) from e
    if spec is None:
        raise _NoModuleError(f"No module named {name}")
    if spec.submodule_search_locations is not None:
        if name == "__main__" or name.endswith(".__main__"):
            raise _NoModuleError("Cannot use package as __main__ module")
        try:
            return _find_main_spec(name + ".__main__")
        except _NoModuleError as e:
            if name not in sys.modules:
                raise
            raise _NoModuleError(f"{e}; {name!r} is a package and cannot be directly executed") from None
    if spec.loader is None:
        raise _NoModuleError(f"{name!r} is a namespace package and cannot be executed")
    return spec


def _import_parent(package: str) -> None:
    """Import the parent package first, as runpy does (its __init__ may set __path__ up)."""
    if not package:
        return
    try:
        __import__(package)
    except ImportError as e:
        # A missing parent is reported later as "No module named ..."; other errors propagate.
        if e.name is None or (e.name != package and not package.startswith(e.name + ".")):
            raise


_replaced_main: list[ModuleType] = []


def _fresh_main() -> ModuleType:
    """A new, empty `__main__` module in sys.modules (as the interpreter creates it)."""
    import builtins
    import types

    # Keep the module that ran fastimport/__main__.py alive: its frame is still running.
    _replaced_main.append(sys.modules["__main__"])
    main = types.ModuleType("__main__")
    main.__dict__.update(__annotations__={}, __builtins__=builtins)
    sys.modules["__main__"] = main
    return main


def _set_path0(path0: str, *, force: bool = False) -> None:
    """Make sys.path[0] the program's directory, unless -P / PYTHONSAFEPATH is in effect."""
    if getattr(sys.flags, "safe_path", False) and not force:
        return
    if sys.path:
        sys.path[0] = path0
    else:
        sys.path.append(path0)


def _is_zip(path: str) -> bool:
    """True for a zip application (CPython runs its __main__.py)."""
    import zipimport  # frozen and already loaded at start-up

    try:
        zipimport.zipimporter(path)
    except (zipimport.ZipImportError, OSError):
        return False
    return True
