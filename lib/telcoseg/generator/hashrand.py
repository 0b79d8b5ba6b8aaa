"""Deterministic randomness as Spark columns: every draw is a hash of (seed, salt, ids).

``rand()`` depends on partitioning; a hash of the row's identity does not, so the same
config gives the same rows however Spark splits the work.
"""

from __future__ import annotations

import math
import zlib

import pyspark.sql.functions as F
from pyspark.sql import Column

_TWO53 = 2**53


def _salt(name: str) -> int:
    # A stable integer per salt name (Python's hash() is randomized per process).
    return zlib.crc32(name.encode())


def hash64(seed: int, salt: str, *cols: Column | str | int) -> Column:
    """A 64-bit hash of (seed, salt, cols)."""
    parts = [
        F.lit(c) if isinstance(c, int) else (F.col(c) if isinstance(c, str) else c) for c in cols
    ]
    return F.xxhash64(F.lit(seed), F.lit(_salt(salt)), *parts)


def uniform(seed: int, salt: str, *cols: Column | str | int) -> Column:
    """Uniform double in [0, 1)."""
    return F.pmod(hash64(seed, salt, *cols), F.lit(_TWO53)) / float(_TWO53)


def below(seed: int, salt: str, n: Column | int, *cols: Column | str | int) -> Column:
    """Uniform integer in [0, n) (0 when n <= 0)."""
    n_col = F.lit(n) if isinstance(n, int) else n
    return F.when(n_col > 0, F.pmod(hash64(seed, salt, *cols), n_col.cast("long"))).otherwise(
        F.lit(0).cast("long")
    )


def normal(seed: int, salt: str, *cols: Column | str | int) -> Column:
    """Standard normal via Box-Muller on two independent uniforms."""
    u1 = uniform(seed, salt + ":1", *cols)
    u2 = uniform(seed, salt + ":2", *cols)
    return F.sqrt(-2.0 * F.log(1.0 - u1)) * F.cos(2.0 * math.pi * u2)


def lognormal(seed: int, salt: str, sigma: float | Column, *cols: Column | str | int) -> Column:
    """Log-normal with median 1 and log-sd ``sigma``."""
    return F.exp(normal(seed, salt, *cols) * sigma)


def poisson_like(rate: Column, u: Column) -> Column:
    """Integer with mean ``rate``: randomized rounding (cheap, exact mean)."""
    return F.floor(F.greatest(rate, F.lit(0.0)) + u).cast("int")


def pick_from_cdf(cdf: Column, u: Column) -> Column:
    """Index i of the first cumulative weight >= u (cdf: array<double> ending at 1)."""
    return F.size(F.filter(cdf, lambda x: x < u))


# One 64-bit hash holds several independent draws: bit fields of it are uniform and
# independent of each other, so a row needs a few hashes instead of one per draw.


def bits(h: Column, offset: int, width: int) -> Column:
    """Bits ``[offset, offset + width)`` of the 64-bit hash ``h`` as a long >= 0."""
    if offset < 0 or width < 1 or offset + width > 64:
        raise ValueError(f"bit field [{offset}, {offset + width}) is outside 64 bits")
    return F.shiftright(h, offset).bitwiseAND(F.lit((1 << width) - 1))


def unit(h: Column, offset: int, width: int = 16) -> Column:
    """Uniform double in [0, 1) from a bit field of ``h`` (resolution 2**-width)."""
    return bits(h, offset, width) / float(1 << width)


def normal_from(h: Column, offset: int = 0) -> Column:
    """Standard normal via Box-Muller on two 21-bit fields starting at ``offset``."""
    u1, u2 = unit(h, offset, 21), unit(h, offset + 21, 21)
    return F.sqrt(-2.0 * F.log(1.0 - u1)) * F.cos(2.0 * math.pi * u2)


def rehash(h: Column, i: int) -> Column:
    """The ``i``-th derived 64-bit hash of ``h`` (a fresh stream of 64 bits)."""
    return F.xxhash64(h, F.lit(i))
