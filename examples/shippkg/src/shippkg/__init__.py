"""fastimport example: kernels that ship as native code in the wheel.

Importing fastimport.install here activates the hook for this package's own modules
(installed packages are in scope when they ship .pym artifacts), so `shippkg.kernels`
loads its precompiled code; anything imported later is accelerated as under
`python -m fastimport`.
"""

import fastimport.install  # noqa: F401 - before the kernels are imported
from shippkg.kernels import collatz_steps, energy, gcd, smooth

__all__ = ["collatz_steps", "energy", "gcd", "smooth"]
