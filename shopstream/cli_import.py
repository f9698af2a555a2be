"""`shopstream import products|interactions FILE`: bring your own catalogue and logs through Kafka."""

from __future__ import annotations

import typer

import_app = typer.Typer(help="Import a catalogue or an interaction log through Kafka.", no_args_is_help=True)
