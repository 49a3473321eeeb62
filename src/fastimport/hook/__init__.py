"""The import hook: a `sys.meta_path` finder that hands in-scope modules to fastimport's loader.

    import mypkg.kernels      # PathFinder finds mypkg/kernels.py (SourceFileLoader)
                              # -> FastImportFinder swaps in FastSourceLoader
                              # -> its code comes from frontend.transform_source

`install()`/`uninstall()` in `fastimport/__init__.py` put the finder on `sys.meta_path`.
"""

from __future__ import annotations

from fastimport.hook.finder import FastImportFinder
from fastimport.hook.loader import FastSourceLoader

__all__ = ["FastImportFinder", "FastSourceLoader"]
