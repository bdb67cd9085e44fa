"""The stubs and py.typed make the API visible to mypy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import agora

HERE = Path(__file__).parent / "typing"


def mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", os.devnull, *args],
        capture_output=True,
        text=True,
        cwd=HERE,
    )


def test_the_package_ships_py_typed_and_stubs() -> None:
    package = Path(agora.__file__).parent
    assert (package / "py.typed").exists()
    assert (package / "_agora.pyi").exists()


def test_mypy_strict_accepts_correct_use() -> None:
    result = mypy("--strict", "uses_the_api.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reports_every_misuse() -> None:
    source = (HERE / "misuses_the_api.py").read_text().splitlines()
    expected = {i + 1 for i, line in enumerate(source) if "# E:" in line}
    result = mypy("misuses_the_api.py")
    reported = {int(m.group(1)) for m in re.finditer(r"misuses_the_api\.py:(\d+): error", result.stdout)}
    assert reported == expected, result.stdout


def test_the_stubs_match_the_native_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "agora._agora", "--ignore-missing-stub"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", agora.__all__)
def test_every_public_name_has_a_docstring(name: str) -> None:
    obj = getattr(agora, name)
    if name == "__version__":
        assert isinstance(obj, str)
        return
    if name == "Actor":  # a type alias: Union[User, Token, str]
        assert obj.__args__ == (agora.User, agora.Token, str)
        return
    assert obj.__doc__ and obj.__doc__.strip(), name
    if isinstance(obj, type):
        for attribute in dir(obj):
            if attribute.startswith("_") or attribute in dir(Exception) or attribute in dir(dict):
                continue
            member = getattr(obj, attribute)
            if isinstance(member, (int, str)):  # class constants such as status_code
                continue
            assert member.__doc__ and member.__doc__.strip(), f"{name}.{attribute}"
