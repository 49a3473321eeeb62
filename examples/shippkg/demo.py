"""Run with the wheel installed: `python demo.py` (the report goes to stderr)."""

import numpy as np
import shippkg

x = np.linspace(0.0, 1.0, 11)
print(shippkg.gcd(1071, 462), shippkg.collatz_steps(27))
print(shippkg.smooth(x, 3).tolist())
print(shippkg.energy(x), shippkg.energy(x.astype(np.float32)))
