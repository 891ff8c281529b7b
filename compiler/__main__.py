"""`python -m compiler` is the `charter` command."""

import sys

from compiler.cli import main

sys.exit(main())
