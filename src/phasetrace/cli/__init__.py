"""The ``phasetrace`` command line: thin commands over the library.

Every command has ``--json`` for scripts and an example in its ``--help``.
Errors a user can cause print one line and exit with code 2; no traceback
unless ``phasetrace --debug`` is given.

Commands live in one module each and are imported only when they run (or when
their help is shown), so ``phasetrace --help`` does not pay for numpy, scipy,
pymatgen or matplotlib.
"""

from __future__ import annotations

from importlib import import_module

import click

__all__ = ["COMMANDS", "main"]

#: Command name -> (module in this package, attribute, one-line summary for ``phasetrace --help``).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "info": ("info", "info", "Show format, points, range, step, radiation and metadata of scan files."),
    "formats": ("info", "formats", "List the file formats phasetrace reads."),
    "peaks": ("identify", "peaks", "Find the peaks of a scan and print the peak table."),
    "identify": ("identify", "identify", "Rank the reference phases that explain a scan's peaks."),
    "fit": ("fit", "fit", "Quantify the phases of an XRD scan by a Rietveld-style whole-pattern fit."),
    "series": ("series", "series", "Analyse heating series: phases, wt % and onset temperatures."),
    "phases": ("phases", "phases", "The reference-phase library: list, show, add and remove phases."),
    "simulate": ("simulate", "simulate", "Write a simulated XRD pattern or Raman spectrum of a mixture."),
    "instrument": ("instrument", "instrument", "Instrument descriptions: calibrate a profile on a standard."),
}


class _LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        return getattr(import_module(f"{__name__}.{module}"), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The summaries are kept here so that the group's help imports no command module.
        rows = [(name, summary) for name, (_, _, summary) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="phasetrace", prog_name="phasetrace", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors (for bug reports).")
def main(debug: bool) -> None:
    """Phase identification, quantification and onsets from XRD and Raman heating series.

    \b
    Example:
      phasetrace info scans/*.xrdml
      phasetrace series scans/ --out results --jobs 2
    """
