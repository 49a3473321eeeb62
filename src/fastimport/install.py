"""`import fastimport.install` puts fastimport's import hook in place (idempotent).

    import fastimport.install   # first line of a program: later imports are accelerated
    import mypkg.kernels

FASTIMPORT_DISABLE=1 makes the import do nothing, and so does an installed finder (its
configuration stays: a package may import this to activate its shipped .pym files). A bad
configuration prints its one-line message to stderr and the program runs as plain CPython:
this import never breaks a program.

Importing this submodule rebinds the attribute `fastimport.install` to it, so the module is
made callable: `fastimport.install(config)` keeps working after `import fastimport.install`.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

import fastimport
from fastimport.config import ConfigError

if TYPE_CHECKING:
    from fastimport.config import Config


class _CallableModule(types.ModuleType):
    def __call__(self, config: Config | None = None) -> None:
        fastimport._install(config)  # noqa: SLF001 - the function this module shadows


def _install_from_import() -> None:
    # Already installed (by `python -m fastimport`, `fastimport compile` or the program): keep
    # that configuration. A package importing this to activate its shipped .pym must not
    # replace the settings of the program that imports it.
    if any(getattr(finder, "_fastimport_finder", False) for finder in sys.meta_path):
        return
    try:
        fastimport._install()  # noqa: SLF001
    except ConfigError as e:
        print(f"{e} (running without fastimport)", file=sys.stderr)


sys.modules[__name__].__class__ = _CallableModule
_install_from_import()
