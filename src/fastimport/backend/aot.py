"""Ahead of time: LLVM modules -> object code for a named CPU, without linking anything.

    object_code(module, "x86-64-v3")  -> bytes of an ELF object (what a shipped .pym carries)

The target machine is the JIT's (large code model, O2, no fast-math) for another CPU:
`BASELINE` for artifacts that ship in wheels, `"host"` for one tuned to this machine. The
/proc/cpuinfo flags a baseline needs are listed here, since LLVM is not asked at load time.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import llvmlite.binding as llvm

from fastimport.backend.capi import register_symbols
from fastimport.backend.jit import OPT_LEVEL, optimized

if TYPE_CHECKING:
    from llvmlite import ir

BASELINE = "x86-64-v3"
# x86-64-v3 (the psABI's level 3) as Linux's /proc/cpuinfo names its features: v1 (lm cmov cx8
# fpu fxsr mmx sse sse2), v2 (cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3), v3 (avx avx2 bmi1
# bmi2 f16c fma abm movbe xsave).
BASELINE_FLAGS = sorted(
    [
        *("lm", "cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"),
        *("cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"),
        *("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"),
    ]
)


@functools.cache
def target_machine(cpu: str) -> llvm.TargetMachine:
    """The target machine for `cpu` ("host": this machine's CPU and features)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    register_symbols()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    if cpu == "host":
        return target.create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=OPT_LEVEL, jit=True
        )
    return target.create_target_machine(cpu=cpu, features="", opt=OPT_LEVEL, jit=True)


def object_code(module: ir.Module, cpu: str, *, vectorize: bool = False) -> bytes:
    """`module` optimized and compiled for `cpu`: an ELF relocatable object."""
    machine = target_machine(cpu)
    return bytes(machine.emit_object(optimized(module, machine, vectorize=vectorize)))
