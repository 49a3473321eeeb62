"""A program mixing compiled and uncompiled code; its output must not change under fastimport.

It has C callers (map, sorted, partial, lru_cache), exceptions through native code, a
reassigned __code__, keyword-only and positional-only parameters, pickling, methods and bad calls.
"""

import functools
import math


def sq(x):
    return x * x


def key(x):
    return -x if x % 2 else x


def maybe(x):
    if x > 3:
        return x / 2
    return x


def boom(x):
    return 10 // x


def uses_str(s):
    return s + "!"


def later(x):
    return x + 1


def other(x):
    return x - 1


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def kw(a, b=2, *, c=3):
    return a * b + c


def pos_only(a, b, /):
    return a - b


def acc(n):
    t = 0
    for i in range(n):
        t += i * 0.5
    return t


def main():
    print(list(map(sq, range(10))))
    print(sorted([5, 3, 8, 1, 9, 2], key=key))
    print([maybe(i) for i in range(6)])
    print(sum(map(sq, [1.5, 2.5, 3])))
    try:
        boom(0)
    except ZeroDivisionError as e:
        print("caught", e, e.__traceback__.tb_next.tb_lineno)
    print(uses_str("hi"), uses_str("x"))
    print(later(1))
    later.__code__ = other.__code__
    print(later(1))
    print(fact(5), fact(25), fact(30))
    print(kw(1), kw(1, 3), kw(1, c=10), kw(a=2, b=2, c=2))
    print(pos_only(5, 3))
    p = functools.partial(kw, 5)
    print(p(), p(4))
    cached = functools.lru_cache(maxsize=None)(fact)
    print(cached(20), cached.cache_info().hits)
    print(acc(0), acc(5), type(acc(0)).__name__)

    class C:
        m = sq

    print(C().m if False else C.m(7))
    print(sq(2**40), sq(2**40 + 1), sq(True), sq(-0.0), sq(float("nan")))
    print(math.fsum(map(maybe, range(100))))
    import pickle

    print(pickle.loads(pickle.dumps(sq)) is sq)
    print(sq.__name__, sq.__qualname__, sq.__module__, kw.__defaults__, kw.__kwdefaults__)
    try:
        kw()
    except TypeError as e:
        print("TypeError", e)
    try:
        sq()
    except TypeError as e:
        print("TypeError", e)
    try:
        sq(1, 2, 3)
    except TypeError as e:
        print("TypeError", e)
    try:
        sq(x=2, y=3)
    except TypeError as e:
        print("TypeError", e)
    print(sq(x=3))


if __name__ == "__main__":
    main()
