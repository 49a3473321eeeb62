"""Three-body gravity (Sun, Jupiter, Saturn) with plain float variables.

Run it:  python -m fastimport examples/nbody.py [steps]
Compare: python examples/nbody.py [steps]   (same output, bit for bit)

`simulate` keeps every coordinate in its own float local: no lists, no tuples, so the whole
integration loop is in fastimport's compiled subset.
"""

import math
import sys

PI = math.pi
SOLAR_MASS = 4.0 * PI * PI
DAYS_PER_YEAR = 365.24

# Initial conditions (from the Computer Language Benchmarks Game), module-level float globals.
JUPITER_X = 4.84143144246472090e00
JUPITER_Y = -1.16032004402742839e00
JUPITER_Z = -1.03622044471123109e-01
JUPITER_VX = 1.66007664274403694e-03 * DAYS_PER_YEAR
JUPITER_VY = 7.69901118419740425e-03 * DAYS_PER_YEAR
JUPITER_VZ = -6.90460016972063023e-05 * DAYS_PER_YEAR
JUPITER_MASS = 9.54791938424326609e-04 * SOLAR_MASS

SATURN_X = 8.34336671824457987e00
SATURN_Y = 4.12479856412430479e00
SATURN_Z = -4.03523417114321381e-01
SATURN_VX = -2.76742510726862411e-03 * DAYS_PER_YEAR
SATURN_VY = 4.99852801234917238e-03 * DAYS_PER_YEAR
SATURN_VZ = 2.30417297573763929e-05 * DAYS_PER_YEAR
SATURN_MASS = 2.85885980666130812e-04 * SOLAR_MASS


def pair_energy(m1, m2, dx, dy, dz):
    """Potential energy of two bodies at offset (dx, dy, dz)."""
    return -m1 * m2 / math.sqrt(dx * dx + dy * dy + dz * dz)


def kinetic(m, vx, vy, vz):
    """Kinetic energy of one body."""
    return 0.5 * m * (vx * vx + vy * vy + vz * vz)


def simulate(steps, dt):
    """Integrate `steps` steps of size `dt`; return the total energy at the end."""
    ms = SOLAR_MASS
    mj = JUPITER_MASS
    mn = SATURN_MASS
    sx = 0.0
    sy = 0.0
    sz = 0.0
    jx = JUPITER_X
    jy = JUPITER_Y
    jz = JUPITER_Z
    jvx = JUPITER_VX
    jvy = JUPITER_VY
    jvz = JUPITER_VZ
    nx = SATURN_X
    ny = SATURN_Y
    nz = SATURN_Z
    nvx = SATURN_VX
    nvy = SATURN_VY
    nvz = SATURN_VZ
    # The Sun moves so that the total momentum is zero.
    svx = -(jvx * mj + nvx * mn) / ms
    svy = -(jvy * mj + nvy * mn) / ms
    svz = -(jvz * mj + nvz * mn) / ms
    for _ in range(steps):
        # Sun - Jupiter
        dx = sx - jx
        dy = sy - jy
        dz = sz - jz
        d2 = dx * dx + dy * dy + dz * dz
        mag = dt / (d2 * math.sqrt(d2))
        svx -= dx * mj * mag
        svy -= dy * mj * mag
        svz -= dz * mj * mag
        jvx += dx * ms * mag
        jvy += dy * ms * mag
        jvz += dz * ms * mag
        # Sun - Saturn
        dx = sx - nx
        dy = sy - ny
        dz = sz - nz
        d2 = dx * dx + dy * dy + dz * dz
        mag = dt / (d2 * math.sqrt(d2))
        svx -= dx * mn * mag
        svy -= dy * mn * mag
        svz -= dz * mn * mag
        nvx += dx * ms * mag
        nvy += dy * ms * mag
        nvz += dz * ms * mag
        # Jupiter - Saturn
        dx = jx - nx
        dy = jy - ny
        dz = jz - nz
        d2 = dx * dx + dy * dy + dz * dz
        mag = dt / (d2 * math.sqrt(d2))
        jvx -= dx * mn * mag
        jvy -= dy * mn * mag
        jvz -= dz * mn * mag
        nvx += dx * mj * mag
        nvy += dy * mj * mag
        nvz += dz * mj * mag
        # Move everyone.
        sx += dt * svx
        sy += dt * svy
        sz += dt * svz
        jx += dt * jvx
        jy += dt * jvy
        jz += dt * jvz
        nx += dt * nvx
        ny += dt * nvy
        nz += dt * nvz
    e = kinetic(ms, svx, svy, svz) + kinetic(mj, jvx, jvy, jvz) + kinetic(mn, nvx, nvy, nvz)
    e += pair_energy(ms, mj, sx - jx, sy - jy, sz - jz)
    e += pair_energy(ms, mn, sx - nx, sy - ny, sz - nz)
    e += pair_energy(mj, mn, jx - nx, jy - ny, jz - nz)
    return e


def jupiter_distance(steps, dt):
    """Distance between the Sun and Jupiter after `steps` steps (two-body approximation)."""
    ms = SOLAR_MASS
    x = JUPITER_X
    y = JUPITER_Y
    z = JUPITER_Z
    vx = JUPITER_VX
    vy = JUPITER_VY
    vz = JUPITER_VZ
    for _ in range(steps):
        d2 = x * x + y * y + z * z
        mag = dt * ms / (d2 * math.sqrt(d2))
        vx -= x * mag
        vy -= y * mag
        vz -= z * mag
        x += dt * vx
        y += dt * vy
        z += dt * vz
    return math.sqrt(x * x + y * y + z * z)


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    dt = 0.01
    print("energy before:", repr(simulate(0, dt)))
    print("energy after: ", repr(simulate(steps, dt)))
    print("jupiter distance:", repr(jupiter_distance(steps, dt)))


if __name__ == "__main__":
    main()
