"""Configuration: [tool.fastimport] in pyproject.toml, FASTIMPORT_* variables, and module scope."""

from __future__ import annotations

import json
import os
import sysconfig
import textwrap
from pathlib import Path

import pytest

import fastimport
from fastimport.config import DEFAULT_MAX_SPECIALIZATIONS, Config, ConfigError, load_config


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without FASTIMPORT_* variables."""
    for name in list(os.environ):
        if name.startswith("FASTIMPORT_"):
            monkeypatch.delenv(name)


def pyproject(directory: Path, body: str) -> Path:
    """Write a pyproject.toml with `body` into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pyproject.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def error_of(start: Path) -> str:
    """The message of the ConfigError that load_config(start) raises."""
    with pytest.raises(ConfigError) as info:
        load_config(start)
    return str(info.value)


def test_defaults_without_pyproject(tmp_path: Path) -> None:
    """Without a pyproject.toml the defaults apply and the start directory is the project root."""
    config = load_config(tmp_path)
    assert config == Config(project_root=tmp_path, pyproject=None)
    assert config.max_specializations == DEFAULT_MAX_SPECIALIZATIONS == 4
    assert (config.disable, config.site_packages, config.report, config.debug) == (False, False, False, 0)


def test_paths_are_given_as_str_or_path_and_read_as_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Config's path settings take str or Path alike; they read back as Path, relative ones made absolute."""
    given = Config(project_root=str(tmp_path), cache_dir=tmp_path / "c", report=str(tmp_path / "r.json"))
    assert given == Config(project_root=tmp_path, cache_dir=str(tmp_path / "c"), report=tmp_path / "r.json")
    assert (given.project_root, given.cache_dir, given.report) == (tmp_path, tmp_path / "c", tmp_path / "r.json")
    assert all(isinstance(p, Path) for p in (given.project_root, given.cache_dir, given.report))
    assert (Config(report=True).report, Config().cache_dir, Config().pyproject) == (True, None, None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTIMPORT_CACHE_DIR", "cache/../here")
    monkeypatch.setenv("FASTIMPORT_REPORT", "out.json")
    config = load_config("sub/..")
    assert config.project_root == tmp_path / "sub" / ".."  # (as Path.absolute makes it: `..` kept)
    assert (config.cache_dir, config.report) == (tmp_path / "cache" / ".." / "here", tmp_path / "out.json")


def test_nearest_pyproject_walking_up(tmp_path: Path) -> None:
    """The nearest pyproject.toml above the start directory is read and gives the project root."""
    pyproject(tmp_path, "[tool.fastimport]\nmax_specializations = 9\n")
    inner = pyproject(tmp_path / "a", "[project]\nname = 'a'\n")
    start = tmp_path / "a" / "b" / "c"
    start.mkdir(parents=True)
    config = load_config(start)
    assert config.pyproject == inner
    assert config.project_root == tmp_path / "a"
    assert config.max_specializations == DEFAULT_MAX_SPECIALIZATIONS


def test_every_file_key_is_read(tmp_path: Path) -> None:
    """All documented keys are read from [tool.fastimport]."""
    pyproject(
        tmp_path,
        """\
        [tool.fastimport]
        disable = false
        include = ["mypkg.*", "tools"]
        exclude = ["mypkg.slow"]
        site_packages = true
        max_specializations = 2
        report = "reports/fi.json"
        debug = 1
        """,
    )
    config = load_config(tmp_path)
    assert config.include == ("mypkg.*", "tools")
    assert config.exclude == ("mypkg.slow",)
    assert config.site_packages is True
    assert config.max_specializations == 2
    assert config.report == tmp_path / "reports" / "fi.json"
    assert config.debug == 1


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FASTIMPORT_* variables win over the file; lists are comma-separated."""
    pyproject(tmp_path, '[tool.fastimport]\ninclude = ["a"]\nmax_specializations = 2\nreport = true\n')
    monkeypatch.setenv("FASTIMPORT_INCLUDE", "x.*, y ,")
    monkeypatch.setenv("FASTIMPORT_EXCLUDE", "x.slow")
    monkeypatch.setenv("FASTIMPORT_MAX_SPECIALIZATIONS", "7")
    monkeypatch.setenv("FASTIMPORT_REPORT", "0")
    monkeypatch.setenv("FASTIMPORT_DEBUG", "2")
    config = load_config(tmp_path)
    assert (config.include, config.exclude) == (("x.*", "y"), ("x.slow",))
    assert (config.max_specializations, config.report, config.debug) == (7, False, 2)


def test_env_report_path_is_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FASTIMPORT_REPORT with a path means a JSON report there, resolved against the current directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTIMPORT_REPORT", "out.json")
    assert load_config(tmp_path / "elsewhere").report == tmp_path / "out.json"


def test_empty_variable_counts_as_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty FASTIMPORT_* variable leaves the setting alone."""
    monkeypatch.setenv("FASTIMPORT_MAX_SPECIALIZATIONS", "")
    monkeypatch.setenv("FASTIMPORT_DISABLE", "")
    config = load_config(tmp_path)
    assert (config.max_specializations, config.disable) == (4, False)


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_disable_skips_even_a_broken_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """FASTIMPORT_DISABLE=1 disables fastimport without reading pyproject.toml."""
    pyproject(tmp_path, "[tool.fastimport]\nbogus = 1\n")
    monkeypatch.setenv("FASTIMPORT_DISABLE", value)
    config = load_config(tmp_path)
    assert config.disable
    assert not config.in_scope("mod", str(tmp_path / "mod.py"))


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        ('max_specializations = "abc"', "max_specializations", "expected an integer >= 1, got 'abc'"),
        ("max_specializations = 0", "max_specializations", "expected an integer >= 1, got 0"),
        ("max_specializations = true", "max_specializations", "expected an integer >= 1, got True"),
        ('disable = "yes"', "disable", "expected true or false"),
        ("site_packages = 1", "site_packages", "expected true or false"),
        ("include = [1, 2]", "include", "expected a list of module name patterns"),
        ("exclude = {a = 1}", "exclude", "expected a list of module name patterns"),
        ("report = 3", "report", "expected true, false or a file path"),
        ("debug = 5", "debug", "expected 0, 1 or 2"),
        ("colour = true", "colour", "unknown key 'colour'"),
    ],
)
def test_bad_file_value_is_one_line_naming_key_and_file(tmp_path: Path, body: str, key: str, expected: str) -> None:
    """A bad value in [tool.fastimport] raises ConfigError with one line naming the key and the file."""
    path = pyproject(tmp_path, f"[tool.fastimport]\n{body}\n")
    message = error_of(tmp_path)
    assert "\n" not in message
    assert message.startswith("fastimport: [tool.fastimport] ")
    assert key in message
    assert str(path) in message
    assert expected in message


def test_example_message_from_the_docs(tmp_path: Path) -> None:
    """The message has the documented shape."""
    path = pyproject(tmp_path, '[tool.fastimport]\nmax_specializations = "abc"\n')
    assert error_of(tmp_path) == (
        f"fastimport: [tool.fastimport] max_specializations in {path}: expected an integer >= 1, got 'abc'"
    )


def test_unparsable_toml_is_one_line(tmp_path: Path) -> None:
    """A pyproject.toml that is not valid TOML gives a one-line ConfigError naming the file."""
    path = pyproject(tmp_path, "[tool.fastimport\nx = \n")
    message = error_of(tmp_path)
    assert "\n" not in message
    assert str(path) in message


def test_fastimport_must_be_a_table(tmp_path: Path) -> None:
    """`tool.fastimport = 1` is rejected."""
    pyproject(tmp_path, "[tool]\nfastimport = 1\n")
    assert "expected a table" in error_of(tmp_path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FASTIMPORT_DISABLE", "maybe"),
        ("FASTIMPORT_MAX_SPECIALIZATIONS", "abc"),
        ("FASTIMPORT_MAX_SPECIALIZATIONS", "0"),
        ("FASTIMPORT_MAX_SPECIALIZATIONS", "2.5"),
        ("FASTIMPORT_DEBUG", "3"),
        ("FASTIMPORT_SITE_PACKAGES", "sometimes"),
    ],
)
def test_bad_environment_value_is_one_line_naming_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """A bad FASTIMPORT_* value raises ConfigError with one line naming the variable and the value."""
    monkeypatch.setenv(name, value)
    message = error_of(tmp_path)
    assert "\n" not in message
    assert message.startswith(f"fastimport: {name}: ")
    assert repr(value) in message


def test_config_is_frozen(tmp_path: Path) -> None:
    """Config objects cannot be modified."""
    config = load_config(tmp_path)
    with pytest.raises(AttributeError):
        config.disable = True  # type: ignore[misc]


def test_public_names_are_reexported() -> None:
    """Config, ConfigError and load_config are reachable from the package."""
    assert fastimport.Config is Config
    assert fastimport.ConfigError is ConfigError
    assert fastimport.load_config is load_config


# --- scope ------------------------------------------------------------------------------------


def module_file(root: Path, name: str) -> str:
    """Create an empty module file for dotted `name` under `root`; return its path."""
    path = root.joinpath(*name.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return str(path)


def test_modules_under_the_project_root_are_in_scope(tmp_path: Path) -> None:
    """By default, a module whose file lies under the project root is in scope; others are not."""
    config = Config(project_root=tmp_path / "proj")
    assert config.in_scope("mypkg.kernels", module_file(tmp_path / "proj", "mypkg.kernels"))
    assert not config.in_scope("other", module_file(tmp_path / "elsewhere", "other"))


def test_no_path_is_out_of_scope(tmp_path: Path) -> None:
    """A module without a source file is never in scope."""
    assert not Config(project_root=tmp_path).in_scope("mod", None)


def test_stdlib_is_never_in_scope(tmp_path: Path) -> None:
    """Standard library modules are out of scope, by path and by top-level name."""
    stdlib = sysconfig.get_paths()["stdlib"]
    config = Config(project_root=Path(stdlib), include=("*",))
    assert not config.in_scope("json", json.__file__)
    assert not config.in_scope("json.decoder", os.path.join(stdlib, "json", "decoder.py"))
    assert not config.in_scope("renamed_decoder", os.path.join(stdlib, "json", "decoder.py"))
    # A file named like a stdlib module is not rewritten, wherever it is.
    assert not Config(project_root=tmp_path).in_scope("json", module_file(tmp_path, "json"))
    assert not Config(project_root=tmp_path).in_scope("os.path", module_file(tmp_path, "os.path"))


def test_fastimport_itself_is_never_in_scope() -> None:
    """The modules of fastimport itself are out of scope, even from its source tree."""
    root = Path(fastimport.__file__).parent.parent
    config = Config(project_root=root, include=("*",))
    assert not config.in_scope("fastimport.cli", str(Path(fastimport.__file__).with_name("cli.py")))
    assert not config.in_scope("fastimport_lookalike", str(Path(fastimport.__file__).with_name("cli.py")))


@pytest.mark.parametrize("site_dir", ["site-packages", "dist-packages"])
def test_site_packages_only_when_enabled(tmp_path: Path, site_dir: str) -> None:
    """site-packages/dist-packages modules are out of scope unless site_packages is true."""
    path = module_file(tmp_path / ".venv" / "lib" / "python3" / site_dir, "thirdparty.core")
    # NOTE: a venv inside the project root must not bring its packages into scope.
    assert not Config(project_root=tmp_path).in_scope("thirdparty.core", path)
    assert Config(project_root=tmp_path, site_packages=True).in_scope("thirdparty.core", path)
    assert not Config(project_root=tmp_path, site_packages=True, exclude=("thirdparty",)).in_scope(
        "thirdparty.core", path
    )


def test_include_replaces_the_project_root_default(tmp_path: Path) -> None:
    """With include patterns, exactly the matching modules are in scope, wherever they live."""
    config = Config(project_root=tmp_path / "proj", include=("mypkg.*", "tool"))
    outside = tmp_path / "outside"
    assert config.in_scope("mypkg.kernels", module_file(outside, "mypkg.kernels"))
    assert config.in_scope("mypkg.sub.deep", module_file(outside, "mypkg.sub.deep"))
    assert not config.in_scope("mypkg", module_file(outside, "mypkg"))
    assert config.in_scope("tool", module_file(outside, "tool"))
    assert config.in_scope("tool.sub", module_file(outside, "tool.sub"))
    assert not config.in_scope("other", module_file(tmp_path / "proj", "other"))


def test_exclude_wins_over_include(tmp_path: Path) -> None:
    """An excluded module (or a module inside an excluded package) is out of scope."""
    config = Config(project_root=tmp_path, include=("mypkg*",), exclude=("mypkg.slow",))
    assert config.in_scope("mypkg.fast", module_file(tmp_path, "mypkg.fast"))
    assert not config.in_scope("mypkg.slow", module_file(tmp_path, "mypkg.slow"))
    assert not config.in_scope("mypkg.slow.inner", module_file(tmp_path, "mypkg.slow.inner"))
    assert not Config(project_root=tmp_path, exclude=("*",)).in_scope("a", module_file(tmp_path, "a"))


def test_disabled_config_has_nothing_in_scope(tmp_path: Path) -> None:
    """A disabled configuration puts every module out of scope."""
    assert not Config(project_root=tmp_path, disable=True).in_scope("a", module_file(tmp_path, "a"))
