"""Black-Scholes call prices over 1-D arrays, with the classic polynomial approximation of the normal CDF."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.

import math

import numpy as np

RSQRT2PI = 0.39894228040143267793994605993438
A1 = 0.31938153
A2 = -0.356563782
A3 = 1.781477937
A4 = -1.821255978
A5 = 1.330274429


def cnd(d):
    k = 1.0 / (1.0 + 0.2316419 * math.fabs(d))
    ret = RSQRT2PI * math.exp(-0.5 * d * d) * (k * (A1 + k * (A2 + k * (A3 + k * (A4 + k * A5)))))
    if d > 0:
        ret = 1.0 - ret
    return ret


def black_scholes(price, strike, years, rate, volatility):
    n = len(price)
    call = np.empty(n)
    for i in range(n):
        s = price[i]
        x = strike[i]
        t = years[i]
        sqrt_t = math.sqrt(t)
        d1 = (math.log(s / x) + (rate + 0.5 * volatility * volatility) * t) / (volatility * sqrt_t)
        d2 = d1 - volatility * sqrt_t
        exp_rt = math.exp(-rate * t)
        call[i] = s * cnd(d1) - x * exp_rt * cnd(d2)
    return call
