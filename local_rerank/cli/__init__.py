"""The ``local-rerank`` command line: the root group and the entry point; each command is a module here.

The commands only call the library and print. Every error a user can cause ends in one line on
stderr and a non-zero exit status.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

import click

from local_rerank.cli import batch, convert, doctor, eval, mcp, models, rank, search, serve, tui
from local_rerank.errors import LocalRerankError
from local_rerank.text import printable

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="local-rerank")
def cli() -> None:
    """Rank passages and files by relevance with a local Qwen3-Reranker model."""


for command in (rank.rank, convert.convert, doctor.doctor, models.models, search.search, tui.tui, serve.serve,
                mcp.mcp, batch.batch, eval.eval_):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turning known errors into one line."""
    # Their warnings (damaged PDFs, download retries) reach the user as our one-line errors.
    logging.getLogger("pypdf").addHandler(logging.NullHandler())
    os.environ.setdefault("HF_HUB_VERBOSITY", "error")  # read when huggingface_hub is first imported
    try:
        cli.main(args=argv, prog_name="local-rerank", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.format_message())
    except click.ClickException as e:
        click.echo(f"error: {printable(e.format_message())}", err=True)
        sys.exit(e.exit_code)
    except LocalRerankError as e:  # a SettingsError exits 2, as a bad flag does
        click.echo(f"error: {printable(str(e))}", err=True)
        sys.exit(getattr(e, "exit_code", 1))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # a bug: still one line, with a way to get the traceback
        if os.environ.get("LOCAL_RERANK_DEBUG"):
            raise
        click.echo(f"error: unexpected {type(e).__name__}: {printable(str(e))} "
                   "(set LOCAL_RERANK_DEBUG=1 for a traceback)",
                   err=True)
        sys.exit(1)
