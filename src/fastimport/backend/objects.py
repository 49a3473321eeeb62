"""Python objects referenced by generated code, through globals filled after linking.

    objects.ref(math.gamma)  ->  @obj.3 = global ptr null   (the loader stores id(obj) there)

Machine code thus holds no object address, which keeps it independent of the
process that compiled it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llvmlite import ir

from fastimport.backend.capi import PTR


@dataclass
class ObjectTable:
    """Python objects the generated code refers to, each through an `@obj.N` global."""

    module: ir.Module
    prefix: str = "obj"  # unique per LLVM module: all modules share one JIT symbol space
    objects: list[object] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def ref(self, obj: object) -> ir.GlobalVariable:
        """The global through which code reads `obj` (one per object and module)."""
        for index, known in enumerate(self.objects):
            if known is obj:
                return self.module.globals[self.names[index]]
        name = f"{self.prefix}.obj.{len(self.objects)}"
        var = ir.GlobalVariable(self.module, PTR, name)
        var.initializer = ir.Constant(PTR, None)
        self.objects.append(obj)
        self.names.append(name)
        return var
