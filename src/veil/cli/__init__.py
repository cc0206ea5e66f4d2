"""The veil command line: parse options, call the library, render. No logic here.

Library errors (VeilError) become one line on stderr and a documented exit
code in one place, :class:`_Group.invoke`; a traceback only with --debug.

The commands live by job: :mod:`veil.cli.data` (run, validate, operators, rekey),
:mod:`veil.cli.scan` (scan) and :mod:`veil.cli.secrets` (keys ..., vault ...); their shared options in
:mod:`veil.cli.options`. Each is registered below, explicitly, on :func:`main`.
"""

from __future__ import annotations

import os
import signal
import traceback

import click

from .. import __version__
from ..errors import EXIT_CODES, EXIT_INTERNAL, VeilError
from ..output import is_no_space, no_space
from .data import operators, rekey_cmd, run, validate
from .scan import scan
from .secrets import keys, vault
from .verify import verify

__all__ = ["main", "debug_traceback", "EXIT_CODES_HELP"]

EXIT_CODES_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code}  {text.replace('`', '')}" for code, text in EXIT_CODES.items())

ENV_DEBUG_UNSAFE = "VEIL_DEBUG_UNSAFE"
SCRUBBED = "<message hidden: it may quote input values; set VEIL_DEBUG_UNSAFE=1 to show it>"


def debug_traceback(err: BaseException, unsafe: bool | None = None) -> str:
    """The traceback --debug prints: every frame (file, line, function, source line) of the
    exception and of its causes, with each exception's type; the message of a VeilError (built
    from names and positions only) is shown, any other exception's message is replaced by
    SCRUBBED unless VEIL_DEBUG_UNSAFE=1, since it may quote a value (Arrow's "Float value
    1234.5 was truncated"). Notes and locals are never shown."""
    if unsafe is None:
        unsafe = os.environ.get(ENV_DEBUG_UNSAFE) == "1"
    chain: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    e: BaseException | None = err
    link: str | None = None
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append((e, link))
        if e.__cause__ is not None:
            e, link = e.__cause__, "The above exception was the direct cause of the following exception:"
        elif e.__context__ is not None and not e.__suppress_context__:
            e, link = e.__context__, "During handling of the above exception, another exception occurred:"
        else:
            e = None
    parts: list[str] = []
    for exc, link in reversed(chain):
        name = type(exc).__module__ + "." + type(exc).__qualname__
        if name.startswith("builtins."):
            name = name[len("builtins."):]
        text = str(exc) if unsafe or isinstance(exc, VeilError) else SCRUBBED
        block = "Traceback (most recent call last):\n" + "".join(traceback.format_tb(exc.__traceback__))
        block += f"{name}: {text}\n"
        parts.append(block)
        if link:
            parts.append(f"\n{link}\n\n")
    return "".join(parts)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug")) or os.environ.get("VEIL_DEBUG") == "1"
        try:
            return super().invoke(ctx)
        except VeilError as err:
            if debug:
                click.echo(debug_traceback(err), err=True, nl=False)
            click.echo(f"veil: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as err:  # anything else is a bug; its text may quote data, so hide it
            if debug:
                click.echo(debug_traceback(err), err=True, nl=False)
            if is_no_space(err):  # a full disk met outside an output's own handling
                nospace = no_space(None)
                click.echo(f"veil: error: {nospace}", err=True)
                ctx.exit(nospace.exit_code)
            click.echo(f"veil: internal error ({type(err).__name__}); rerun with --debug for a "
                       "traceback and report it", err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=_Group, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="veil")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors (frames and exception types; the "
              "message of an unexpected exception is hidden unless VEIL_DEBUG_UNSAFE=1, as it may quote data).")
def main(debug: bool) -> None:
    """veil turns production extracts into data safe for development, staging and ML.

    \b
    Quick start:
      veil keys init ~/.veil/keyring.json
      veil validate profiles/shop.yaml samples/shop
      veil run samples/shop --profile profiles/shop.yaml \\
          --keyring ~/.veil/keyring.json --out out/shop --report out/shop-report.json
    """
    if hasattr(signal, "SIGXFSZ"):
        # past `ulimit -f` a write then fails (EFBIG) and is reported as exit 9, temporary files
        # removed, instead of the signal killing veil mid-write
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


# explicit registration (no command registers itself on import); --help lists them sorted by name
for _command in (run, validate, scan, operators, rekey_cmd, keys, vault, verify):
    main.add_command(_command)
