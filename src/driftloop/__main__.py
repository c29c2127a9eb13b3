"""``python -m driftloop`` runs the command-line interface."""

from driftloop.cli.main import cli

if __name__ == "__main__":
    cli()
