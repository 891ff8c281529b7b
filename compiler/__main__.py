"""`python -m compiler` is the `charter` command."""

from compiler.cli import entry

entry()
