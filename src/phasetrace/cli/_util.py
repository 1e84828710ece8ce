"""Shared pieces of the command line: error handling, JSON output, library options.

Command modules (``phasetrace.cli`` and the per-stage ``commands`` modules)
import these so that every command behaves the same way.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from .._json import json_safe
from ..errors import OptionError, PhasetraceError, bounded

#: Exit code for bad input (a file, an option, a manifest).
EXIT_BAD_INPUT = 2
#: Exit code for a bug in phasetrace itself.
EXIT_INTERNAL = 70


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """Print one bounded error line (controls escaped, at most 300 characters) and exit."""
    click.echo(bounded(f"phasetrace: error: {message}"), err=True)
    sys.exit(code)


def _user_os_error(exc: OSError) -> str | None:
    """A one-line message for an OS error the user caused (a path they gave), else None."""
    import errno

    user = {
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "read-only file system",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EISDIR: "is a folder",
        errno.EEXIST: "already exists",
        errno.ENOENT: "no such file or folder",
        errno.ENAMETOOLONG: "file name too long",
    }
    problem = user.get(exc.errno or -1)
    if problem is None:
        return None
    where = exc.filename if exc.filename is not None else "output"
    return f"{where}: {problem}"


def guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn phasetrace errors into one line and exit code 2 (tracebacks only with --debug)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        saved = warnings.formatwarning
        if not debug:
            warnings.formatwarning = _one_line_warning
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
        except OSError as exc:
            # a path the user gave (a read-only or full --out, a file where a folder should be)
            message = _user_os_error(exc)
            if debug or message is None:
                if debug:
                    raise
                fail(_internal(exc), EXIT_INTERNAL)
            fail(message)
        except Exception as exc:  # noqa: BLE001 - never a bare traceback for users
            if debug:
                raise
            fail(_internal(exc), EXIT_INTERNAL)
        finally:
            warnings.formatwarning = saved

    return wrapper


def _one_line_warning(
    message: Any, category: Any, filename: str, lineno: int, line: str | None = None
) -> str:
    """Warnings on the terminal as one bounded line each (no source line, no file position)."""
    return bounded(f"phasetrace: warning: {message}") + "\n"


def _internal(exc: BaseException) -> str:
    return (
        f"internal error ({type(exc).__name__}: {bounded(str(exc), 120)}); please report it, and rerun "
        "with 'phasetrace --debug ...' for the traceback"
    )


def dump_json(obj: Any) -> None:
    """Print ``obj`` as JSON; NaN and infinities become null (strict JSON always parses)."""
    click.echo(json.dumps(json_safe(obj), indent=2, ensure_ascii=False, allow_nan=False, default=str))


def check_out_dir(path: Path, option: str = "--out") -> Path:
    """Check an output folder before any work: creatable, a folder, writable. Returns it.

    Raises
    ------
    OptionError
        (exit 2) naming the path and the problem: it is a file, lies under a file, or cannot be written.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OptionError(f"{option}: {p} is a file, not a folder")
    parent = p
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OptionError(f"{option}: {p} lies under {parent}, which is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OptionError(f"{option}: {parent} is not writable")
    return p


def check_out_file(path: Path, option: str = "--out") -> Path:
    """Check an output file's path before any work: not a folder, its folder exists and is writable."""
    p = Path(path)
    if p.is_dir():
        raise OptionError(f"{option}: {p} is a folder, not a file")
    parent = p.parent if str(p.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise OptionError(f"{option}: {p} lies under {parent}, which is a file")
    if not parent.exists():
        raise OptionError(f"{option}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OptionError(f"{option}: {parent} is not writable")
    return p


def phase_ids(text: str, option: str = "--phases") -> list[str]:
    """Phase ids from a comma-separated option; an empty or repeated id is an OptionError (exit 2)."""
    ids = [p.strip() for p in text.split(",") if p.strip()]
    if not ids:
        raise OptionError(f"{option}: give phase ids, e.g. LLZTO_cubic,LiCoO2")
    seen: set[str] = set()
    dup = [i for i in ids if i in seen or seen.add(i)]
    if dup:
        raise OptionError(f"{option}: phase {dup[0]!r} is given twice")
    return ids


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
    from ..library.formula import ELEMENTS

    unknown = sorted(els - ELEMENTS)
    if unknown:
        raise OptionError(f"--elements: unknown element symbol(s) {', '.join(map(repr, unknown))}")
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


def check_file_system(lib, file: Path, system: str) -> None:
    """The system a scan's name or metadata gives must be one the library knows, else say what to give.

    A reaction product's name (``Cr2O3-2ZnO_1100C_60min``) reads as a system of unknown materials;
    the sample's elements are what the user can give instead.

    Raises
    ------
    OptionError
        The system names a material the library does not know; the message suggests ``--elements``
        with the elements of the name's formulas where it has any.
    """
    from ..library.formula import formula_elements
    from ..library.materials import UnknownMaterialError, resolve_system

    try:
        resolve_system(system, lib.materials)
    except UnknownMaterialError as exc:
        els: set[str] = set()
        for tok in re.split(r"[-+_ ,/]+", system):
            try:
                els |= formula_elements(tok.lstrip("0123456789.")) if tok else set()
            except Exception:  # noqa: BLE001 - a token that is no formula adds no element
                continue
        hint = f"--elements {','.join(sorted(els))}" if els else "--elements (the sample's elements)"
        reason = str(exc).split(";", 1)[0]
        raise OptionError(
            f"{file}: {reason} (the system its name gives); give {hint}, --system or --phases"
        ) from None


def instrument_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--instrument FILE``: an instrument description (YAML) for the whole-pattern fit."""
    return click.option(
        "--instrument",
        "instrument_file",
        type=click.Path(path_type=Path),
        help="Instrument description (YAML): radiation, slits, monochromator, profile; see "
        "'phasetrace instrument calibrate'.",
    )(func)


def load_instrument_file(path: Path | None):
    """The Instrument of ``--instrument`` (None without the option); errors are one line."""
    if path is None:
        return None
    from ..quantify.instrument import load_instrument

    return load_instrument(path)


#: The option that picks one scan of a file that holds several (``fit``, ``identify``, ``peaks``,
#: ``instrument calibrate``).
INDEX_HELP = "Which scan (0, 1, ...), for a file that holds several (ranges, repeats, a .zip)."


def load_scan(file: Path, *, index: int | None = None, **kwargs: Any):
    """:func:`phasetrace.io.load` for the command line: a file of several scans asks for ``--index``.

    The library's own message names its Python argument (``index=``, ``load_all``), which a user of
    the command line cannot give.

    Raises
    ------
    OptionError
        Several scans and no ``--index``, or an ``--index`` the file does not have.
    """
    from ..io import load_all

    scans = load_all(file, **kwargs)
    n = len(scans)
    if index is None:
        if n > 1:
            raise OptionError(f"{file}: holds {n} scans; choose one with --index 0..{n - 1}")
        return scans[0]
    if not -n <= index < n:
        raise OptionError(f"{file}: holds {n} scan(s); --index must be 0..{n - 1}, not {index}")
    return scans[index]


def check_window(
    file: Path, option: str, lo: float, hi: float, covered: tuple[float, float], what: str = "the scan's"
) -> None:
    """A 2θ window option (``--range``, ``--zoom``) in order and overlapping the part of the scan in use.

    Raises
    ------
    OptionError
        Reversed ends, or a window outside ``covered`` (the scan's 2θ range, or the fitted part of it):
        the fit otherwise found "no reflection in the scan range" and a zoom panel was drawn empty.
    """
    if not lo < hi:
        raise OptionError(f"{option} {lo:g} {hi:g}: give the lower end first ({option} {hi:g} {lo:g})")
    a, b = covered
    if hi <= a or lo >= b:
        raise OptionError(f"{file}: {option} {lo:g} {hi:g} lies outside {what} 2θ {a:g}–{b:g}°")


def scan_radiation(anode: str | None, inst: Any):
    """The radiation to load an XRD scan with: ``--anode``'s, the ``--instrument`` file's lines, or None.

    The instrument's lines are the radiation even for a file that states its own (or none,
    which then needs no default and no warning). None leaves it to the file.
    """
    from ..scan import Radiation

    if inst is not None and inst.lines:
        if anode:
            raise click.UsageError("the instrument file states the radiation: give --anode or --instrument")
        return inst.radiation(None)
    return Radiation.from_anode(anode, source="user") if anode else None
