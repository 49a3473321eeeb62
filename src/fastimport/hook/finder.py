"""The `sys.meta_path` finder: PathFinder's spec, with our loader for in-scope `.py` sources.

    spec = PathFinder.find_spec("mypkg.kernels", path)    # loader: SourceFileLoader
    FastImportFinder(config).find_spec("mypkg.kernels", path)
        -> the same spec, loader: FastSourceLoader("mypkg.kernels", ".../kernels.py")

Out-of-scope modules get `None`, so the rest of `sys.meta_path` (other hooks such as
pytest's assertion rewriter or setuptools' editable finders, then PathFinder) handles them
exactly as without fastimport.
"""

from __future__ import annotations

from _thread import get_ident
from importlib.machinery import PathFinder, SourceFileLoader

from fastimport.hook.loader import FastSourceLoader

# Not `from typing import TYPE_CHECKING`: importing typing costs ~6 ms of every start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from fastimport.config import Config


# Threads currently inside find_spec: a nested import made there is left to the next finder.
_busy: set[int] = set()


class FastImportFinder:
    """Meta path finder that routes in-scope source modules through `FastSourceLoader`."""

    # Marks our finders even across reloads of this module (see fastimport.install()).
    _fastimport_finder = True

    def __init__(self, config: Config) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"<FastImportFinder root={str(self.config.project_root)!r}>"

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        """PathFinder's spec with `FastSourceLoader` if the module is in scope, else None."""
        # NOTE: the name-only check first keeps stdlib imports from paying a second path search.
        if not self.config.may_be_in_scope(fullname):
            return None
        thread = get_ident()
        if thread in _busy:
            return None  # an import made while deciding scope (sysconfig's lazy imports on 3.13)
        _busy.add(thread)
        try:
            return self._find_spec(fullname, path, target)
        except Exception as e:  # noqa: BLE001 - contract: the module is then imported as plain CPython would
            from fastimport.runtime.debug import internal_error

            internal_error(f"deciding whether {fullname} is in scope", e)
            return None
        finally:
            _busy.discard(thread)

    def _find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None,
    ) -> ModuleSpec | None:
        spec = PathFinder.find_spec(fullname, path, target)
        if spec is None or type(spec.loader) is not SourceFileLoader:
            return None
        origin = spec.origin
        if origin is None or not origin.endswith(".py") or not self.config.in_scope(fullname, origin):
            return None
        spec.loader = FastSourceLoader(fullname, origin)
        return spec

    def invalidate_caches(self) -> None:
        """Nothing cached here; PathFinder's own caches are invalidated by importlib."""
