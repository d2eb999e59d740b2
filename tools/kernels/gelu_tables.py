#!/usr/bin/env python3
"""Prints the GELU tables of kernels/src/activation_impl.h (GeluPiecewise).

erf(|x| / sqrt(2)) on [0, 6) in 8 segments of 0.75: on each of the first seven a degree-6
polynomial in (t - centre), least squares on Chebyshev basis over the segment widened by 0.002 on
both sides (t * (4/3) rounded in float may put a point just past a boundary); the last segment
[5.25, 6) is the constant 1 (erf(5.25/sqrt 2) = 1 - 1.5e-7), so GELU is exactly x above it and
exactly 0 below -5.25. Max |error| of the polynomials against math.erf: 6.3e-8.
Usage: .venv/bin/python tools/kernels/gelu_tables.py
"""
from math import erf, sqrt

import numpy as np
from numpy.polynomial import chebyshev as C

SEGMENTS, WIDTH, DEGREE = 8, 0.75, 6


def main():
    verf = np.vectorize(erf)
    centres, coef, worst = [], [], 0.0
    for i in range(SEGMENTS):
        a, b = i * WIDTH, (i + 1) * WIDTH
        c = float(np.float32((a + b) / 2))
        centres.append(c)
        if i == SEGMENTS - 1:
            coef.append([1.0] + [0.0] * DEGREE)
            continue
        x = np.linspace(a - 0.002, b + 0.002, 4001)
        y = verf(x / sqrt(2))
        p = C.cheb2poly(C.chebfit(x - c, y, DEGREE))
        worst = max(worst, float(np.max(np.abs(np.polynomial.polynomial.polyval(x - c, p) - y))))
        coef.append(list(p))
    coef = np.array(coef, dtype=np.float32)
    print("// tools/kernels/gelu_tables.py: max |poly - erf| = %.2g" % worst)
    print("alignas(32) constexpr float kGeluCentre[8] = {%s};" % ", ".join("%.9ef" % v for v in centres))
    print("alignas(32) constexpr float kGeluPoly[7][8] = {")
    for d in range(DEGREE + 1):
        print("    {%s}," % ", ".join("%.9ef" % v for v in coef[:, d]))
    print("};")


if __name__ == "__main__":
    main()
