"""Shared pieces of the command line: error handling, JSON output, library options.

Command modules (``phasetrace.cli`` and the per-stage ``commands`` modules)
import these so that every command behaves the same way.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from ..errors import PhasetraceError

#: Exit code for bad input (a file, an option, a manifest).
EXIT_BAD_INPUT = 2
#: Exit code for a bug in phasetrace itself.
EXIT_INTERNAL = 70


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    click.echo(f"phasetrace: error: {message}", err=True)
    sys.exit(code)


def guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn phasetrace errors into one line and exit code 2 (tracebacks only with --debug)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        try:
            return func(*args, **kwargs)
        except PhasetraceError as exc:
            if debug:
                raise
            fail(str(exc))
        except BrokenPipeError:
            # output piped into a program that stopped reading (| head): leave quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except (KeyboardInterrupt, SystemExit, click.exceptions.Exit, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - never a bare traceback for users
            if debug:
                raise
            fail(
                f"internal error ({type(exc).__name__}: {exc}); please report it, and rerun with "
                "'phasetrace --debug ...' for the traceback",
                EXIT_INTERNAL,
            )

    return wrapper


def dump_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False, default=str))


def library_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--library",
        "libraries",
        multiple=True,
        type=click.Path(path_type=Path),
        help="A user CIF file or a folder of CIFs to use besides the bundled phases (repeatable).",
    )(func)


def load_library(libraries: tuple[Path, ...]):
    from ..library.phases import PhaseLibrary

    return PhaseLibrary.default(extra=libraries)


def parse_elements(text: str | None) -> set[str] | None:
    if text is None:
        return None
    els = {e.strip().capitalize() for e in text.replace(";", ",").replace(" ", ",").split(",") if e.strip()}
    if not els:
        raise click.BadParameter("give element symbols, e.g. Li,La,Zr,Co,O", param_hint="--elements")
    return els


def system_elements(lib, system: str | None, elements: str | None) -> tuple[set[str] | None, tuple[str, ...]]:
    """Elements and always-candidates from --system or --elements (not both)."""
    from ..library.materials import resolve_system

    if system and elements:
        raise click.UsageError("give either --system or --elements, not both")
    if system:
        spec = resolve_system(system, lib.materials)
        return set(spec.elements), tuple(spec.always)
    return parse_elements(elements), tuple(lib.materials.get("always_candidates") or ())
