"""Configuration: `[tool.fastimport]` in the nearest pyproject.toml, then `FASTIMPORT_*` variables.

    /proj/pyproject.toml               environment
    [tool.fastimport]                  FASTIMPORT_MAX_SPECIALIZATIONS=8
    include = ["mypkg.*"]      ->      load_config("/proj/scripts")
    max_specializations = 2            == Config(include=("mypkg.*",), max_specializations=8,
                                                 project_root=Path("/proj"), ...)

The file is found by walking up from a start directory (the main script's directory, or the
current directory for `-m`); its directory is the project root. Environment variables override
the file. `FASTIMPORT_DISABLE=1` wins over everything and skips reading the file, so it is
also the escape hatch from a broken configuration. Every bad value raises `ConfigError`,
whose message is one line naming the key and where it came from.

Keep this module cheap to import: it runs before every user script.
"""

from __future__ import annotations

import os
import sys
from functools import cached_property

# Not `from typing import TYPE_CHECKING`: importing typing costs ~6 ms of every start-up.
# Nor pathlib (~10 ms: it imports re, fnmatch and urllib.parse), nor fnmatch (re): paths are
# kept as strings, and the Path-typed attributes of Config make their Path when asked.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from typing import Any

__all__ = [
    "DEFAULT_MAX_SPECIALIZATIONS",
    "Config",
    "ConfigError",
    "active_config",
    "find_pyproject",
    "load_config",
    "set_active_config",
]

DEFAULT_MAX_SPECIALIZATIONS = 4

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_SITE_DIRS = frozenset({"site-packages", "dist-packages"})
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_PATH_FIELDS = frozenset({"report", "cache_dir", "project_root", "pyproject"})  # kept as str, given as Path


class ConfigError(Exception):
    """A bad configuration value; `str()` is one line naming the key and its source."""


class Config:
    """Settings for one process; `in_scope` decides which modules the hook rewrites.

    Immutable, compared by value; `replace(**changes)` makes a changed copy. (A plain
    class rather than a dataclass: `dataclasses` imports `inspect`, which alone costs
    ~6 ms of every start-up.)
    """

    _FIELDS = (
        "disable",
        "include",  # fnmatch patterns on dotted module names; also matching submodules of a match
        "exclude",
        "site_packages",
        "max_specializations",
        "report",  # False: no report; True: text table on stderr at exit; a path: JSON written there
        "debug",
        "cache",  # False: no platform cache of .pym artifacts (shipped ones are still used: runtime/artifacts.py)
        "cache_dir",  # None: the platform's user cache directory (runtime/cachedir.py)
        "ahead",  # compile what earlier runs observed before the first call, on a thread (runtime/ahead.py)
        "predict",  # compile ahead what the type predictor guesses for functions nothing else types (predict/)
        "reassociate",  # float + - * may be reassociated (the user's opt-in: results may differ in the last bits)
        "signatures",  # ((qualified function name, (signature, ...)), ...) for `fastimport compile`
        "project_root",
        "pyproject",  # the pyproject.toml the settings came from, if any
    )

    disable: bool
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    site_packages: bool
    max_specializations: int
    debug: int
    cache: bool
    ahead: bool
    predict: bool
    reassociate: bool
    signatures: tuple[tuple[str, tuple[str, ...]], ...]

    def __init__(  # noqa: PLR0913 - one keyword per setting
        self,
        *,
        disable: bool = False,
        include: tuple[str, ...] = (),
        exclude: tuple[str, ...] = (),
        site_packages: bool = False,
        max_specializations: int = DEFAULT_MAX_SPECIALIZATIONS,
        report: bool | str | os.PathLike[str] = False,
        debug: int = 0,
        cache: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        ahead: bool = True,
        predict: bool = True,
        reassociate: bool = False,
        signatures: tuple[tuple[str, tuple[str, ...]], ...] = (),
        project_root: str | os.PathLike[str] | None = None,
        pyproject: str | os.PathLike[str] | None = None,
    ) -> None:
        values = dict(locals())
        values["project_root"] = project_root if project_root is not None else os.getcwd()
        for name in self._FIELDS:
            value = values[name]
            if name in _PATH_FIELDS:
                name = "_" + name  # noqa: PLW2901 - the str behind the property
                if value is not None and not isinstance(value, bool):
                    value = os.fspath(value)
            object.__setattr__(self, name, value)

    @property
    def report(self) -> bool | Path:
        """False: no report; True: text table on stderr at exit; a path: JSON written there."""
        return _as_path(self._report)  # type: ignore[attr-defined, return-value]

    @property
    def cache_dir(self) -> Path | None:
        """None: the platform's user cache directory (runtime/cachedir.py)."""
        return _as_path(self._cache_dir)  # type: ignore[attr-defined, return-value]

    @property
    def project_root(self) -> Path:
        """The directory of `pyproject`, else where the settings were looked for from."""
        return _as_path(self._project_root)  # type: ignore[attr-defined, return-value]

    @property
    def pyproject(self) -> Path | None:
        """The pyproject.toml the settings came from, if any."""
        return _as_path(self._pyproject)  # type: ignore[attr-defined, return-value]

    def _raw(self, name: str) -> object:
        """A setting as stored (paths as str)."""
        return getattr(self, "_" + name if name in _PATH_FIELDS else name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Config is immutable: cannot set {name!r}")

    def _values(self) -> tuple[object, ...]:
        return tuple(self._raw(name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"Config({fields})"

    def replace(self, **changes: Any) -> Config:  # noqa: ANN401 - any setting
        """A copy with some settings changed."""
        return Config(**{**{name: self._raw(name) for name in self._FIELDS}, **changes})

    def in_scope(self, module_name: str, path: str | None) -> bool:
        """Whether the hook rewrites module `module_name` loaded from source file `path`."""
        if self.disable or path is None or not self.may_be_in_scope(module_name):
            return False
        real = os.path.realpath(path)
        if _is_under(real, _PACKAGE_DIR):
            return False
        # NOTE: before the stdlib check: site-packages lives inside lib/pythonX.Y.
        if _SITE_DIRS.intersection(real.split(os.sep)):
            return (self.site_packages or ships_pym(real)) and self._selected(real, in_site=True)
        if any(_is_under(real, root) for root in self._stdlib_dirs):
            return False
        return self._selected(real, in_site=False)

    def may_be_in_scope(self, module_name: str) -> bool:
        """Cheap pre-check on the name alone: False means `in_scope` is False for any path."""
        top = module_name.partition(".")[0]
        if top == "fastimport" or top in _STDLIB_NAMES:
            return False
        if self.include and not _matches(module_name, self.include):
            return False
        return not _matches(module_name, self.exclude)

    def _selected(self, real: str, *, in_site: bool) -> bool:
        # include (already checked by may_be_in_scope) replaces the project-root default.
        if self.include or in_site:
            return True
        return _is_under(real, self._root)

    @cached_property
    def _root(self) -> str:
        return os.path.realpath(self._project_root)  # type: ignore[attr-defined]

    @cached_property
    def _stdlib_dirs(self) -> tuple[str, ...]:
        import sysconfig  # only needed once a module is looked up

        try:
            dirs = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
        except Exception:  # noqa: BLE001 - sysconfig half set up (this lookup is its own lazy import): the rest will do
            dirs = set()
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        for prefix in {sys.base_prefix, sys.base_exec_prefix}:
            dirs.add(os.path.join(prefix, "lib", version))
            dirs.add(os.path.join(prefix, "Lib"))  # Windows layout
        dirs.add(os.path.dirname(os.__file__))
        return tuple(sorted({os.path.realpath(d) for d in dirs}))


def load_config(start_dir: str | os.PathLike[str] | None = None) -> Config:
    """Read `[tool.fastimport]` from the pyproject.toml nearest `start_dir` (default: cwd), then the environment."""
    env = os.environ
    start = _absolute(start_dir if start_dir is not None else os.getcwd())
    if _env_bool(env, "FASTIMPORT_DISABLE"):
        return Config(disable=True, project_root=start)
    pyproject = _find_pyproject(start)
    values: dict[str, Any] = {}
    if pyproject is not None:
        values = _read_file(pyproject)
    root = os.path.dirname(pyproject) if pyproject is not None else start
    config = Config(project_root=root, pyproject=pyproject, **values)
    return config.replace(**_read_env(env))


def find_pyproject(start: str | os.PathLike[str]) -> Path | None:
    """The nearest pyproject.toml in `start` or one of its parents, or None."""
    return _as_path(_find_pyproject(_absolute(start)))  # type: ignore[return-value]


def _find_pyproject(start: str) -> str | None:
    directory = start
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _absolute(path: str | os.PathLike[str]) -> str:
    """`path` made absolute as Path.absolute makes it: joined to the cwd, `..` left as it is."""
    path = os.fspath(path)
    if not os.path.isabs(path):
        path = os.path.join(os.getcwd(), path)
    return path.rstrip(os.sep) or os.sep


def _as_path(value: object) -> object:
    """A stored path setting as a Path (a bool or None as it is)."""
    if value is None or isinstance(value, bool):
        return value
    from pathlib import Path  # only when asked: see the imports at the top

    return Path(value)  # type: ignore[arg-type]


_active: Config | None = None


def active_config() -> Config:
    """The configuration of this process: the one `install()` used, else loaded from cwd."""
    global _active  # noqa: PLW0603 - one configuration per process
    if _active is None:
        _active = load_config()
    return _active


def reassociates() -> bool:
    """Whether float `+ - *` may be reassociated in this process (`reassociate`; False with a bad configuration).

    The compiler asks it for what it emits, the `.pym` loader for what it may load.
    """
    try:
        return active_config().reassociate
    except ConfigError:
        return False


def set_active_config(config: Config) -> None:
    """Make `config` what `active_config()` returns (called by `fastimport.install`)."""
    global _active  # noqa: PLW0603 - one configuration per process
    _active = config


# --- reading values -------------------------------------------------------------------------


def _read_file(pyproject: str) -> dict[str, Any]:
    try:
        if sys.version_info >= (3, 11):
            import tomllib  # only when a pyproject.toml exists
        else:
            import tomli as tomllib
        with open(pyproject, "rb") as f:
            document = tomllib.load(f)
    except (OSError, ValueError) as e:
        message = " ".join(str(e).split())
        raise ConfigError(f"fastimport: cannot read {pyproject}: {message}") from None
    table = document.get("tool", {}).get("fastimport", {})
    if not isinstance(table, dict):
        raise ConfigError(f"fastimport: [tool.fastimport] in {pyproject}: expected a table, got {table!r}")
    values: dict[str, Any] = {}
    for key, raw in table.items():
        where = f"[tool.fastimport] {key} in {pyproject}"
        if key not in _FILE_KEYS:
            known = ", ".join(sorted(_FILE_KEYS))
            raise ConfigError(f"fastimport: [tool.fastimport] unknown key {key!r} in {pyproject} (known keys: {known})")
        values[key] = _FILE_KEYS[key](raw, where, os.path.dirname(pyproject))
    return values


def _read_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, (key, parse) in _ENV_KEYS.items():
        raw = env.get(name, "").strip()
        if raw:  # an empty variable counts as unset
            values[key] = parse(raw, name)
    return values


def _env_bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip()
    return bool(raw) and _parse_bool_text(raw, name)


def _file_bool(raw: object, where: str, _base: str) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"fastimport: {where}: expected true or false, got {raw!r}")
    return raw


def _file_patterns(raw: object, where: str, _base: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(p, str) and p.strip() for p in raw):
        raise ConfigError(f"fastimport: {where}: expected a list of module name patterns, got {raw!r}")
    return tuple(p.strip() for p in raw)


def _file_positive_int(raw: object, where: str, _base: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ConfigError(f"fastimport: {where}: expected an integer >= 1, got {raw!r}")
    return raw


def _file_debug(raw: object, where: str, _base: str) -> int:
    if isinstance(raw, bool) or raw not in (0, 1, 2):
        raise ConfigError(f"fastimport: {where}: expected 0, 1 or 2, got {raw!r}")
    return int(raw)  # type: ignore[call-overload]


def _file_report(raw: object, where: str, base: str) -> bool | str:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip():
        return _absolute(os.path.join(base, raw.strip()))
    raise ConfigError(f"fastimport: {where}: expected true, false or a file path, got {raw!r}")


def _file_directory(raw: object, where: str, base: str) -> str:
    if isinstance(raw, str) and raw.strip():
        return _absolute(os.path.join(base, os.path.expanduser(raw.strip())))
    raise ConfigError(f"fastimport: {where}: expected a directory path, got {raw!r}")


def _file_signatures(raw: object, where: str, _base: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`"pkg.mod.func" = "(float64[:], int)"` or a list of such strings."""
    if not isinstance(raw, dict):
        raise ConfigError(f"fastimport: {where}: expected a table of function name = signature(s), got {raw!r}")
    out = []
    for name, value in raw.items():
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            expected = "expected a signature string or a list of them"
            raise ConfigError(f"fastimport: {where}.{name}: {expected}, got {value!r}")
        out.append((name, tuple(t.strip() for t in texts)))
    return tuple(out)


def _parse_bool_text(raw: str, where: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"fastimport: {where}: expected 1/0, true/false, yes/no or on/off, got {raw!r}")


def _env_patterns(raw: str, _where: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _env_positive_int(raw: str, where: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"fastimport: {where}: expected an integer >= 1, got {raw!r}")
    return value


def _env_debug(raw: str, where: str) -> int:
    if raw not in ("0", "1", "2"):
        raise ConfigError(f"fastimport: {where}: expected 0, 1 or 2, got {raw!r}")
    return int(raw)


def _env_directory(raw: str, _where: str) -> str:
    return _absolute(os.path.expanduser(raw))


def _env_report(raw: str, _where: str) -> bool | str:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return _absolute(raw)


_FILE_KEYS: dict[str, Callable[[object, str, str], Any]] = {
    "disable": _file_bool,
    "include": _file_patterns,
    "exclude": _file_patterns,
    "site_packages": _file_bool,
    "max_specializations": _file_positive_int,
    "report": _file_report,
    "debug": _file_debug,
    "cache": _file_bool,
    "cache_dir": _file_directory,
    "ahead": _file_bool,
    "predict": _file_bool,
    "reassociate": _file_bool,
    "signatures": _file_signatures,
}

# variable -> (Config field, parser); FASTIMPORT_DISABLE is read first, in load_config.
_ENV_KEYS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "FASTIMPORT_DISABLE": ("disable", _parse_bool_text),
    "FASTIMPORT_INCLUDE": ("include", _env_patterns),
    "FASTIMPORT_EXCLUDE": ("exclude", _env_patterns),
    "FASTIMPORT_SITE_PACKAGES": ("site_packages", _parse_bool_text),
    "FASTIMPORT_MAX_SPECIALIZATIONS": ("max_specializations", _env_positive_int),
    "FASTIMPORT_REPORT": ("report", _env_report),
    "FASTIMPORT_DEBUG": ("debug", _env_debug),
    "FASTIMPORT_CACHE": ("cache", _parse_bool_text),
    "FASTIMPORT_CACHE_DIR": ("cache_dir", _env_directory),
    "FASTIMPORT_AHEAD": ("ahead", _parse_bool_text),
    "FASTIMPORT_PREDICT": ("predict", _parse_bool_text),
    "FASTIMPORT_REASSOCIATE": ("reassociate", _parse_bool_text),
}


# --- scope helpers --------------------------------------------------------------------------


def _matches(module_name: str, patterns: tuple[str, ...]) -> bool:
    """True if a pattern matches the module or one of its parent packages."""
    if not patterns:
        return False
    parts = module_name.split(".")
    names = [".".join(parts[: i + 1]) for i in range(len(parts))]
    from fnmatch import fnmatchcase  # (it imports re: only when patterns are set)

    return any(fnmatchcase(name, pattern) for pattern in patterns for name in names)


def shipped_pym(source: str, variant: str = "") -> str:
    """Where a package ships the .pym of module file `source`: `__pycache__/<stem>.<cache tag>[.<variant>].pym`."""
    directory, name = os.path.split(source)
    suffix = f".{variant}" if variant else ""
    stem = name.rpartition(".")[0]
    return os.path.join(directory, "__pycache__", f"{stem}.{sys.implementation.cache_tag}{suffix}.pym")


def ships_pym(source: str) -> bool:
    """Whether an installed module comes with a (baseline) .pym artifact: then it is in scope."""
    return os.path.exists(shipped_pym(source))


def _is_under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


_STDLIB_NAMES: frozenset[str] = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)
