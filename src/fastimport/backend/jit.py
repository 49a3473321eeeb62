"""LLVM IR module -> machine code loaded in this process.

One MCJIT engine per process; each compiled unit is parsed, verified,
optimized (O2 by default) for the host CPU (no fast-math flags are ever emitted, so
float results stay bit-identical: no reassociation, no FMA contraction) and
added to it. Object addresses the code refers to (`@obj.N`) are filled in
after linking.
"""

from __future__ import annotations

import ctypes
import functools
import os
import time
from dataclasses import dataclass, field

import llvmlite.binding as llvm
from llvmlite import ir

from fastimport.backend.capi import register_symbols

# O2: measured on this machine, O3 doubles compile time (opt 17 -> 6 ms, codegen
# 15 -> 6 ms on a small loop) for no gain on our kernels; FASTIMPORT_OPT overrides.
OPT_LEVEL = int(os.environ.get("FASTIMPORT_OPT", "2"))


@dataclass
class Jit:
    """The target machine and the execution engine every unit is linked into."""

    target_machine: llvm.TargetMachine
    engine: llvm.ExecutionEngine
    # The object code MCJIT made of each module, by module name, until `take_object` (runtime/artifacts.py
    # saves it into a .pym, for a later process to load without LLVM).
    objects: dict[str, bytes] = field(default_factory=dict)

    def load(self, module: ir.Module, *, vectorize: bool = False) -> llvm.ModuleRef:
        """Optimize and link `module`; its symbols are resolvable afterwards.

        `vectorize`: the unit has versioned loops over arrays (frontend/versioning.py),
        which LLVM's loop vectorizer can turn into SIMD code (it never reassociates floats
        without fast-math flags, which we never emit: results stay bit-identical); such a
        unit goes through the whole O2 pipeline, any other through `_simplify`.
        """
        mod = optimized(module, self.target_machine, vectorize=vectorize)
        self.engine.add_module(mod)
        self.engine.finalize_object()
        return mod

    def take_object(self, module_name: str) -> bytes | None:
        """The object code of the module named `module_name`, once (None if it was not kept)."""
        return self.objects.pop(module_name, None)

    def address(self, symbol: str) -> int:
        """Where function `symbol` was linked."""
        return self.engine.get_function_address(symbol)

    def global_address(self, name: str) -> int:
        """Where global variable `name` was linked."""
        return self.engine.get_global_value_address(name)

    def set_pointer(self, name: str, value: int) -> None:
        """Store an address into the pointer-sized global `name`."""
        ctypes.c_void_p.from_address(self.global_address(name)).value = value


def optimized(module: ir.Module, target_machine: llvm.TargetMachine, *, vectorize: bool = False) -> llvm.ModuleRef:
    """`module` parsed, verified and optimized for `target_machine` (see `Jit.load`)."""
    mod = llvm.parse_assembly(str(module))
    mod.name = module.name  # the key of its object code in `Jit.objects`
    mod.verify()
    pto = llvm.PipelineTuningOptions(speed_level=OPT_LEVEL)
    # Measured (benchmarks/): on today's scalar kernels the vectorizers and the
    # unroller double compile time (integrate_sin 49 -> 22 ms) and gain nothing:
    # float reductions cannot be vectorized without reassociation, which we never do.
    pto.loop_vectorization = vectorize
    pto.slp_vectorization = False
    # Measured (benchmarks/loops.py): interleaving and unrolling the vectorized loops
    # add ~30% of optimized code and compile time, and no speed on memory-bound loops.
    pto.loop_unrolling = False
    pto.loop_interleaving = False
    builder = llvm.create_pass_builder(target_machine, pto)
    if vectorize:
        builder.getModulePassManager().run(mod, builder)
    else:
        inlines = any("alwaysinline" in f.attributes for f in module.functions if not f.is_declaration)
        _simplify(mod, builder, inline=inlines)
    return mod


def _simplify(mod: llvm.ModuleRef, builder: llvm.PassBuilder, *, inline: bool) -> None:
    """The light pipeline: inline what the front end marked `alwaysinline` (if `inline`), then simplify each function.

    LLVM's function simplification pipeline (SROA, instcombine, CFG simplification,
    GVN, and the loop passes: rotation, LICM, induction variables, deletion) without
    the module-level rest of O2 (the cost-model inliner, IPO, the late loop passes).
    Measured on the scalar kernels (benchmarks/): optimizer time halves (count_primes
    18.6 -> 7.8 ms, collatz 14.4 -> 8.5 ms) and run times stay within noise; the
    front end decides what to inline (compiler._inline_marks) instead of the inliner.
    """
    if inline:  # (a module pass manager costs ~0.1 ms even with nothing to do)
        inliner = llvm.create_new_module_pass_manager()
        inliner.add_always_inliner_pass()
        inliner.run(mod, builder)
    functions = builder.getFunctionPassManager()
    for function in mod.functions:
        if not function.is_declaration:
            functions.run(function, builder)


@functools.cache
def jit() -> Jit:
    """The process-wide JIT (created at the first compile; the time goes to the set-up account)."""
    start = time.perf_counter()
    try:
        return _create_jit()
    finally:
        from fastimport.runtime.registry import add_setup_ms

        add_setup_ms((time.perf_counter() - start) * 1000)


def _create_jit() -> Jit:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    register_symbols()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    tm = target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=OPT_LEVEL,
        jit=True,
    )
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
    jit = Jit(tm, engine)

    def keep(module: llvm.ModuleRef, data: bytes) -> None:
        jit.objects[module.name] = bytes(data)

    engine.set_object_cache(keep)
    return jit


def host_triple() -> str:
    """This process's target triple."""
    return llvm.get_process_triple()


def per_host(values: dict[str, int], other: int) -> int:
    """`values` for this machine's architecture (`x86_64`, ...), else `other`: counter rates differ by architecture."""
    return values.get(host_triple().split("-")[0], other)
