"""Charter: a GitOps-style compiler for ML systems.

The package runs one way: load -> validate -> IR -> render / execute, with gitops on top.
This module only holds the version so that `charter --version` starts fast.
"""

__version__ = "0.1.0"
