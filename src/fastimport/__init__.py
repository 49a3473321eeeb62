"""fastimport: a transparent accelerator for numeric Python.

    import fastimport
    fastimport.install()      # in-scope modules imported from now on are accelerated
    import mypkg.kernels      # rewritten: eligible functions run native code behind guards
    fastimport.uninstall()    # later imports load as plain CPython

`import fastimport` stays cheap: the compiler (llvmlite, numpy, onnxruntime) is imported
lazily, at the first compile. Everything public here is imported on first use.
"""

from __future__ import annotations

import sys

# Not `from typing import TYPE_CHECKING`: importing typing costs ~6 ms of every start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from fastimport.config import Config, ConfigError, load_config

__version__ = "0.1.0"

__all__ = ["Config", "ConfigError", "__version__", "install", "load_config", "uninstall"]

_LAZY = {"Config": "fastimport.config", "ConfigError": "fastimport.config", "load_config": "fastimport.config"}


def install(config: Config | None = None) -> None:
    """Put fastimport's finder first on `sys.meta_path` (idempotent; nothing if disabled).

    Without `config`, it is loaded from the pyproject.toml nearest the main script (or the
    current directory) and the FASTIMPORT_* variables; a bad value raises ConfigError.
    Calling again replaces the configuration of the one installed finder.
    """
    from fastimport.config import load_config, set_active_config  # keep import cheap
    from fastimport.hook.finder import FastImportFinder

    if config is None:
        config = load_config(_main_script_dir())
    set_active_config(config)
    if config.disable:
        uninstall()
        return
    for finder in sys.meta_path:
        if getattr(finder, "_fastimport_finder", False):
            finder.config = config  # type: ignore[attr-defined]
            break
    else:
        sys.meta_path.insert(0, FastImportFinder(config))
    if config.report:
        from fastimport.runtime.report import report_at_exit

        report_at_exit(config.report)


def uninstall() -> None:
    """Remove fastimport's finder from `sys.meta_path`; modules already loaded keep their code."""
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "_fastimport_finder", False)]


# `import fastimport.install` rebinds `fastimport.install` to that submodule; the submodule
# is callable and forwards here, so `fastimport.install()` works either way.
_install = install


def _main_script_dir() -> str:
    """The main script's directory if there is one, else the current directory."""
    import os

    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if isinstance(main_file, str):
        return os.path.dirname(os.path.join(os.getcwd(), main_file))  # (as Path.absolute: `..` kept)
    return os.getcwd()


def __getattr__(name: str) -> Any:  # noqa: ANN401 - lazy attributes of any kind
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fastimport' has no attribute {name!r}")
