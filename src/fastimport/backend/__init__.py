"""Back end: typed IR -> LLVM IR (llvmlite.ir) -> native code loaded in-process.

Importing this package imports llvmlite; the runtime does so only when a
function is about to be compiled.
"""
