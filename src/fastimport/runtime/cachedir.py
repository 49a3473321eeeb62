"""Where `.pym` artifacts live, and what a process must match to use one.

    cache_root(config)   FASTIMPORT_CACHE_DIR / [tool.fastimport] cache_dir, else the
                         platform's user cache dir (platformdirs): ~/.cache/fastimport
    cache_tree(config)   <root>/<python cache tag>, e.g. ~/.cache/fastimport/cpython-311,
                         created private to the user (0700); None (and one warning) if it
                         cannot be created or written: the program then runs uncached
    environment()        this process's side of every invalidation check: versions, the
                         target, the CPU flags it has (runtime/artifacts.py compares)

Only Linux on x86-64 loads artifacts (backend/objload.py places x86-64 code);
elsewhere `supported()` is False and nothing is cached.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

TYPE_CHECKING = False  # importing typing costs ~2 ms of a warm run
if TYPE_CHECKING:
    from typing import Any

    from fastimport.config import Config

APP = "fastimport"
_warned: set[str] = set()


@functools.cache
def supported() -> bool:
    """Whether this platform can load `.pym` object code."""
    return sys.platform.startswith("linux") and os.uname().machine == "x86_64"


def cache_root(config: Config) -> Path:
    """The directory holding one tree per Python cache tag."""
    if config.cache_dir is not None:
        return config.cache_dir
    known = _xdg_cache_root()
    if known is not None:
        return known
    import platformdirs  # ~2.5 ms of a warm run: only where the rule below does not settle it

    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def _xdg_cache_root() -> Path | None:
    """Platformdirs' answer on Linux where it is plain: `$XDG_CACHE_HOME/fastimport` or `~/.cache/fastimport`.

    Only for absolute paths, which every platformdirs release takes as they are (relative
    ones it has treated differently over time: those, and other systems, ask platformdirs;
    tests/test_cache.py checks the two agree).
    """
    if not sys.platform.startswith("linux"):
        return None
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg, APP)
    home = os.environ.get("HOME", "")
    if xdg or not os.path.isabs(home):
        return None
    return Path(os.path.expanduser("~/.cache"), APP)


def cache_tree(config: Config) -> Path | None:
    """This Python's tree of the cache, created 0700; None (warned once) if unusable or disabled."""
    if not config.cache or not supported():
        return None
    return _tree(cache_root(config))


@functools.cache
def _tree(root: Path) -> Path | None:
    tree = root / (sys.implementation.cache_tag or "python")
    try:
        for directory in (root, tree):
            if not directory.is_dir():
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(directory, 0o700)  # (mkdir's mode is filtered by the umask)
        if not os.access(tree, os.W_OK | os.X_OK):
            raise PermissionError(f"{tree} is not writable")
    except OSError as e:
        warn_once(f"cache directory {tree} is unusable ({e}); running without the .pym cache")
        return None
    return tree


def warn_once(message: str) -> None:
    """One line on stderr, at most once per process and message."""
    if message not in _warned:
        _warned.add(message)
        print(f"fastimport: {message}", file=sys.stderr)


def artifact_name(module: str, path: str) -> str:
    """The file name of a module's artifact: the module name, and a hash of its real path."""
    from fastimport.runtime.pym import sha256

    digest = sha256(os.path.realpath(path).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{module}-{digest}.pym"


# --- this process's environment ---------------------------------------------------------------


def fastimport_version() -> str:
    """This fastimport's version (artifacts of another version are recompiled)."""
    from fastimport import __version__

    return __version__


def python_id() -> str:
    """The Python build artifacts depend on: implementation, version, ABI flags.

    (NumPy's version is recorded per unit, by the units that use NumPy: runtime/artifacts.py.)
    """
    abiflags = getattr(sys, "abiflags", "")
    version = ".".join(map(str, sys.version_info[:3]))
    return f"{sys.implementation.cache_tag} {version}{abiflags} {sys.version_info.releaselevel}"


def llvm_id() -> str:
    """The code generator: llvmlite's version (each llvmlite release bundles one LLVM).

    `import llvmlite` alone is cheap (~1 ms); its binding, LLVM itself, is not imported.
    """
    import llvmlite

    return f"llvmlite {llvmlite.__version__}"


def triple() -> str:
    """The platform in our own short form (LLVM's triple is not known without LLVM)."""
    return f"{os.uname().machine}-{sys.platform}"


@functools.cache
def host_flags() -> frozenset[str]:
    """The CPU feature flags of this machine, as /proc/cpuinfo names them (empty if unknown)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def host_id() -> str:
    """A fingerprint of this CPU (model and flags): exact-match fallback for features cpuinfo does not name."""
    from fastimport.runtime.pym import sha256

    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            model = next((line.partition(":")[2].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return sha256((model + " " + " ".join(sorted(host_flags()))).encode()).hexdigest()[:16]


# LLVM's x86 feature names that /proc/cpuinfo spells differently.
_LLVM_TO_CPUINFO = {
    "64bit": "lm",
    "sse3": "pni",
    "sse4.1": "sse4_1",
    "sse4.2": "sse4_2",
    "crc32": "sse4_2",
    "bmi": "bmi1",
    "lzcnt": "abm",
    "pclmul": "pclmulqdq",
    "prfchw": "3dnowprefetch",
    "rdrnd": "rdrand",
    "sahf": "lahf_lm",
    "sha": "sha_ni",
    "cx16": "cx16",
    "avx512bf16": "avx512_bf16",
    "avx512bitalg": "avx512_bitalg",
    "avx512vbmi2": "avx512_vbmi2",
    "avx512vnni": "avx512_vnni",
    "avx512vpopcntdq": "avx512_vpopcntdq",
    "avx512fp16": "avx512_fp16",
    "avxvnni": "avx_vnni",
    "shstk": "user_shstk",
}


def cpuinfo_flags(llvm_features: str) -> tuple[list[str], list[str]]:
    """The /proc/cpuinfo flags an LLVM feature string needs, and the enabled features it cannot name."""
    flags, unnamed = set(), []
    known = host_flags()
    for feature in llvm_features.split(","):
        if not feature.startswith("+"):
            continue
        name = feature[1:]
        flag = _LLVM_TO_CPUINFO.get(name, name.replace(".", "_"))
        if flag in known:
            flags.add(flag)
        else:
            unnamed.append(name)
    return sorted(flags), sorted(unnamed)


def environment(module: str, source_sha256: str) -> dict[str, Any]:
    """This process's values for `pym.mismatch` (plus the CPU fingerprint, checked in artifacts.py)."""
    return {
        "fastimport": fastimport_version(),
        "llvm": llvm_id(),
        "python": python_id(),
        "triple": triple(),
        "module": module,
        "source_sha256": source_sha256,
        "features": host_flags(),
        "depends": {},
    }
