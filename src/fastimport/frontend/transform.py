"""Source -> code object, the way the hook runs a module (see `frontend/prologue.py`).

    transform_source(source, path, name)  ==  compile(source, path, "exec")
                                               plus a native-entry prologue in each
                                               candidate function

Kept tiny: it is imported at every start-up, and a module without a `def` does not
even need the `ast` module.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing import ...`: typing costs ~6 ms of start-up
if TYPE_CHECKING:
    import types


def transform_source(source: bytes | str, path: str, module_name: str) -> types.CodeType:
    """Compile a module's source the way the hook runs it; never worse than `compile()`."""
    if ("def" if isinstance(source, str) else b"def") not in source:
        return compile(source, path, "exec", dont_inherit=True)  # no function: nothing to do
    import ast  # deferred: a run with nothing to transform does not pay for it

    tree = ast.parse(source, filename=path)  # a SyntaxError is the user's, as with compile()
    from fastimport.runtime.registry import note_source

    note_source(module_name, source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass"))
    try:
        from fastimport.frontend.prologue import add_prologues

        return add_prologues(tree, path, module_name)
    except Exception as e:  # noqa: BLE001 - contract: an internal error leaves the module as CPython runs it
        from fastimport.runtime.debug import internal_error

        internal_error(f"transforming {path}", e)
        return compile(source, path, "exec", dont_inherit=True)
