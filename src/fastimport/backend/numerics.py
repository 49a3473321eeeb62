"""CPython's numeric algorithms, emitted as small internal LLVM functions.

Each mirrors the C function it names in CPython's Objects/ (floatobject.c
float_pow, _float_div_mod; longobject.c long_pow for int64), step for step,
so results agree to the last bit. They return an i1 "ok"; false means
CPython would raise or leave int64, and the caller deopts.
"""

from __future__ import annotations

from llvmlite import ir

from fastimport.backend.capi import F64, I1, I64, PTR, declare_libm, intrinsic

TRUE = ir.Constant(I1, 1)
FALSE = ir.Constant(I1, 0)


def _helper(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type]) -> tuple[ir.Function, bool]:
    existing = module.globals.get(name)
    if existing is not None:
        return existing, False
    fn = ir.Function(module, ir.FunctionType(ret, args), name)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    return fn, True


def _f(value: float) -> ir.Constant:
    return ir.Constant(F64, value)


def int_pow(module: ir.Module) -> ir.Function:
    """Ok = fi_ipow(a, b >= 0, *out): square-and-multiply with overflow checks."""
    fn, new = _helper(module, "fi_ipow", I1, [I64, I64, PTR])
    if not new:
        return fn
    a, b, out = fn.args
    entry = fn.append_basic_block("entry")
    loop = fn.append_basic_block("loop")
    step = fn.append_basic_block("step")
    square = fn.append_basic_block("square")
    done = fn.append_basic_block("done")
    fail = fn.append_basic_block("fail")
    bld = ir.IRBuilder(entry)
    bld.branch(loop)
    bld.position_at_end(loop)
    result = bld.phi(I64)
    base = bld.phi(I64)
    e = bld.phi(I64)
    result.add_incoming(ir.Constant(I64, 1), entry)
    base.add_incoming(a, entry)
    e.add_incoming(b, entry)
    bld.cbranch(bld.icmp_signed("==", e, ir.Constant(I64, 0)), done, step)
    bld.position_at_end(step)
    odd = bld.trunc(e, I1)
    prod = bld.smul_with_overflow(result, base)
    ovf = bld.and_(odd, bld.extract_value(prod, 1))
    new_result = bld.select(odd, bld.extract_value(prod, 0), result)
    e2 = bld.ashr(e, ir.Constant(I64, 1))
    more = bld.icmp_signed("!=", e2, ir.Constant(I64, 0))
    bld.cbranch(ovf, fail, square)
    bld.position_at_end(square)
    sq = bld.smul_with_overflow(base, base)
    sq_ovf = bld.and_(more, bld.extract_value(sq, 1))
    new_base = bld.select(more, bld.extract_value(sq, 0), base)
    result.add_incoming(new_result, square)
    base.add_incoming(new_base, square)
    e.add_incoming(e2, square)
    bld.cbranch(sq_ovf, fail, loop)
    bld.position_at_end(done)
    bld.store(result, out)
    bld.ret(TRUE)
    bld.position_at_end(fail)
    bld.ret(FALSE)
    return fn


def float_div_mod(module: ir.Module) -> ir.Function:
    """fi_fdivmod(vx, wx != 0, *floordiv, *mod): CPython's _float_div_mod."""
    fn, new = _helper(module, "fi_fdivmod", ir.VoidType(), [F64, F64, PTR, PTR])
    if not new:
        return fn
    vx, wx, out_div, out_mod = fn.args
    bld = ir.IRBuilder(fn.append_basic_block("entry"))
    fmod = declare_libm(module, "fmod", 2)
    floor = intrinsic(module, "llvm.floor.f64", F64, [F64])
    copysign = intrinsic(module, "llvm.copysign.f64", F64, [F64, F64])
    mod = bld.call(fmod, [vx, wx])
    div = bld.fdiv(bld.fsub(vx, mod), wx)
    mod_nonzero = bld.fcmp_unordered("!=", mod, _f(0.0))
    signs_differ = bld.icmp_unsigned("!=", bld.fcmp_ordered("<", wx, _f(0.0)), bld.fcmp_ordered("<", mod, _f(0.0)))
    adjust = bld.and_(mod_nonzero, signs_differ)
    mod_adj = bld.select(adjust, bld.fadd(mod, wx), mod)
    div = bld.select(adjust, bld.fsub(div, _f(1.0)), div)
    mod = bld.select(mod_nonzero, mod_adj, bld.call(copysign, [_f(0.0), wx]))
    div_nonzero = bld.fcmp_unordered("!=", div, _f(0.0))
    floordiv = bld.call(floor, [div])
    floordiv = bld.select(
        bld.fcmp_ordered(">", bld.fsub(div, floordiv), _f(0.5)), bld.fadd(floordiv, _f(1.0)), floordiv
    )
    floordiv = bld.select(div_nonzero, floordiv, bld.call(copysign, [_f(0.0), bld.fdiv(vx, wx)]))
    bld.store(floordiv, out_div)
    bld.store(mod, out_mod)
    bld.ret_void()
    return fn


def float_pow(module: ir.Module) -> ir.Function:
    """Ok = fi_fpow(iv, iw, *out): CPython's float_pow, special cases first, then libm pow."""
    fn, new = _helper(module, "fi_fpow", I1, [F64, F64, PTR])
    if not new:
        return fn
    iv, iw, out = fn.args
    fabs = intrinsic(module, "llvm.fabs.f64", F64, [F64])
    floor = intrinsic(module, "llvm.floor.f64", F64, [F64])
    copysign = intrinsic(module, "llvm.copysign.f64", F64, [F64, F64])
    fmod = declare_libm(module, "fmod", 2)
    pow_ = declare_libm(module, "pow", 2)
    bld = ir.IRBuilder(fn.append_basic_block("entry"))

    def give(value: ir.Value) -> None:
        bld.store(value, out)
        bld.ret(TRUE)

    def when(cond: ir.Value) -> ir.Block:
        """Open the block taken when `cond`; the builder continues in the other."""
        yes, no = fn.append_basic_block(), fn.append_basic_block()
        bld.cbranch(cond, yes, no)
        bld.position_at_end(yes)
        return no

    def is_odd_integer(x: ir.Value) -> ir.Value:
        return bld.fcmp_ordered("==", bld.call(fmod, [bld.call(fabs, [x]), _f(2.0)]), _f(1.0))

    def is_inf(x: ir.Value) -> ir.Value:
        return bld.fcmp_ordered("==", bld.call(fabs, [x]), _f(float("inf")))

    def is_nan(x: ir.Value) -> ir.Value:
        return bld.fcmp_unordered("uno", x, x)

    rest = when(bld.fcmp_ordered("==", iw, _f(0.0)))  # v**0 is 1, even 0**0
    give(_f(1.0))
    bld.position_at_end(rest)
    rest = when(is_nan(iv))  # nan**w = nan, unless w == 0
    give(iv)
    bld.position_at_end(rest)
    rest = when(is_nan(iw))  # v**nan = nan, unless v == 1
    give(bld.select(bld.fcmp_ordered("==", iv, _f(1.0)), _f(1.0), iw))
    bld.position_at_end(rest)
    rest = when(is_inf(iw))
    av = bld.call(fabs, [iv])
    one = bld.fcmp_ordered("==", av, _f(1.0))
    big = bld.icmp_unsigned("==", bld.fcmp_ordered(">", iw, _f(0.0)), bld.fcmp_ordered(">", av, _f(1.0)))
    give(bld.select(one, _f(1.0), bld.select(big, bld.call(fabs, [iw]), _f(0.0))))
    bld.position_at_end(rest)
    rest = when(is_inf(iv))
    odd = is_odd_integer(iw)
    positive = bld.fcmp_ordered(">", iw, _f(0.0))
    pos_value = bld.select(odd, iv, bld.call(fabs, [iv]))
    neg_value = bld.select(odd, bld.call(copysign, [_f(0.0), iv]), _f(0.0))
    give(bld.select(positive, pos_value, neg_value))
    bld.position_at_end(rest)
    rest = when(bld.fcmp_ordered("==", iv, _f(0.0)))
    zero_div = when(bld.fcmp_ordered("<", iw, _f(0.0)))
    bld.ret(FALSE)  # ZeroDivisionError: 0.0 cannot be raised to a negative power
    bld.position_at_end(zero_div)
    give(bld.select(is_odd_integer(iw), iv, _f(0.0)))
    bld.position_at_end(rest)
    negative = bld.fcmp_ordered("<", iv, _f(0.0))
    rest = when(bld.and_(negative, bld.fcmp_unordered("!=", iw, bld.call(floor, [iw]))))
    bld.ret(FALSE)  # a negative number to a fractional power is complex
    bld.position_at_end(rest)
    negate = bld.and_(negative, is_odd_integer(iw))
    iv = bld.select(negative, bld.fneg(iv), iv)
    rest = when(bld.fcmp_ordered("==", iv, _f(1.0)))
    give(bld.select(negate, _f(-1.0), _f(1.0)))
    bld.position_at_end(rest)
    ix = bld.call(pow_, [iv, iw])
    rest = when(is_inf(ix))
    bld.ret(FALSE)  # OverflowError
    bld.position_at_end(rest)
    give(bld.select(negate, bld.fneg(ix), ix))
    return fn
