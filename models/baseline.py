"""The rule-based baseline the learned predictor must beat: names and usage, by hand.

    guess(features) -> label     (the same feature dicts the model sees, predict/features.py)

The rules are what an engineer would write in an afternoon, in order of confidence: an
annotation or a literal default says the type; `.shape`/`.ndim`/NumPy calls say an ndarray
(as many dimensions as its widest subscript); `range(n)`, use as an index and names such as
`n`, `i`, `count` say int; float literals, true division and `math` calls say float;
subscripting or iterating says a list; string methods and formatting say str; else "other".
"""

from __future__ import annotations

INT_NAMES = frozenset(
    {"n", "i", "j", "k", "m", "count", "size", "num", "idx", "index", "length", "steps", "nsteps", "limit", "seed"}
)
INT_TOKENS = frozenset({"n", "num", "count", "size", "idx", "index", "len", "length", "steps", "depth", "level"})
FLOAT_NAMES = frozenset({"x", "y", "z", "t", "dt", "eps", "tol", "alpha", "beta", "gamma", "sigma", "mu", "rate"})
STR_ATTRS = frozenset({"startswith", "endswith", "join", "split", "lower", "upper", "strip", "format", "encode"})
ARRAY_ATTRS = frozenset({"shape", "ndim", "dtype", "astype", "T", "reshape", "ravel", "flatten", "size"})
ANNOTATIONS = {"int": "int", "float": "float", "bool": "bool", "str": "str", "None": "None"}
DEFAULTS = {
    "default=int_lit": "int",
    "default=float_lit": "float",
    "default=bool_lit": "bool",
    "default=str_lit": "str",
}


def guess(f: dict[str, float]) -> str:  # noqa: C901, PLR0911 - the rules read best as one ordered list
    """The baseline's label for one parameter's features."""
    if "self_param" in f:
        return "other"
    for key in f:
        if key.startswith("annotation="):
            return ANNOTATIONS.get(key.partition("=")[2], "other")
    for key, label in DEFAULTS.items():
        if key in f:
            return label
    keys = set(f)
    name = next((k.partition("=")[2] for k in keys if k.startswith("name=")), "")
    tokens = {k.partition("=")[2] for k in keys if k.startswith("name_tok=")}
    dims = max((int(k.rpartition(":")[2]) for k in keys if k.startswith("subscripted:")), default=0)
    if any(k.partition("=")[2] in ARRAY_ATTRS for k in keys if k.startswith("attr=")) or "arg_of_numpy" in keys:
        return f"ndarray:float64:{min(max(dims, 1), 3)}"
    if "arg_of=range" in keys or "used_as_index" in keys or name in INT_NAMES or tokens & INT_TOKENS:
        return "int"
    if any(k.partition("=")[2] in STR_ATTRS for k in keys if k.startswith("attr=")) or "formatted" in keys:
        return "str"
    if dims or "iterated" in keys or "arg_of=len" in keys:
        return "list[float]" if "fn_float_literal" in keys else "list[int]"
    floaty = ("binop_with:float_lit", "arg_of_math", "binop:Div", "compare_with:float_lit", "stmt_literal=float")
    if any(k in keys for k in floaty) or name in FLOAT_NAMES:
        return "float"
    if "compare_with:None" in keys:
        return "None"
    if "truth" in keys and not any(k.startswith(("binop", "attr=", "arg_of")) for k in keys):
        return "bool"
    return "other"
