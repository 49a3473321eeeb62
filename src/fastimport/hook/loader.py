"""The loader: CPython's SourceFileLoader, with code from `transform_source` and no .pyc.

    FastSourceLoader("mypkg.kernels", ".../kernels.py").get_code("mypkg.kernels")
        == transform_source(<bytes of kernels.py>, ".../kernels.py", "mypkg.kernels")

Transformed code holds objects `marshal` cannot write, so this loader never reads or writes
`__pycache__`; `spec.cached` still names CPython's own .pyc path, which stays untouched.
"""

from __future__ import annotations

from importlib.machinery import SourceFileLoader

from fastimport.frontend.transform import transform_source

# Not `from typing import TYPE_CHECKING`: importing typing costs ~6 ms of every start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType, ModuleType


class FastSourceLoader(SourceFileLoader):
    """Loads a `.py` module through fastimport's transform (modern protocol: exec_module)."""

    def exec_module(self, module: ModuleType) -> None:
        """Run the module, then hand its functions to the compile-ahead thread (runtime/ahead.py)."""
        super().exec_module(module)
        from fastimport.runtime import ahead

        ahead.module_loaded(module)

    def get_code(self, fullname: str) -> CodeType:
        """The transformed code of the module; never consults the bytecode cache."""
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)

    def source_to_code(self, data: bytes | str, path: str, *, _optimize: int = -1) -> CodeType:  # type: ignore[override]
        """Compile `data` with fastimport's rewriting (raises SyntaxError like `compile()`)."""
        return transform_source(data, path, self.name)
