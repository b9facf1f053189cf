"""
Tests that run the project's static checks: ruff and mypy --strict.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from twisted.trial import unittest

ROOT = Path(__file__).resolve().parent.parent


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    """
    Run a Python tool module from the repository root and capture its output.
    """
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


class StaticChecksTests(unittest.TestCase):
    """
    The code passes ruff and mypy --strict with the mypy-zope plugin.
    """

    def test_ruff_check(self) -> None:
        """
        C{ruff check} finds nothing in the package, the plugin, the tests and
        the benchmarks.
        """
        result = run_tool(
            "ruff", "check", "twisted_ice", "twisted", "tests", "benchmarks"
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_ruff_format(self) -> None:
        """
        C{ruff format --check} would change no file.
        """
        result = run_tool(
            "ruff", "format", "--check", "twisted_ice", "twisted", "tests", "benchmarks"
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_mypy_strict(self) -> None:
        """
        C{mypy --strict}, configured in pyproject.toml, finds no error.
        """
        result = run_tool("mypy")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
