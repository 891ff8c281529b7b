"""The built-in targets, a literal table of `name -> "module:function"`.

A target's module is imported only when the target is selected (like yamllint's rule registry).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

TARGETS: dict[str, str] = {
    "ir": "compiler.render.ir:render",
    "codeowners": "compiler.render.codeowners:render",
    "docs": "compiler.render.docs:render",
    "github": "compiler.render.github:render",
    "gitlab": "compiler.render.gitlab:render",
    "airflow": "compiler.render.airflow:render",
    "kubernetes": "compiler.render.kubernetes:render",
    "argo": "compiler.render.argo:render",
    "kubeflow": "compiler.render.kubeflow:render",
    "runner": "compiler.render.runner:render",
}


def load_target(name: str) -> Callable[..., dict[str, str]]:
    module, _, func = TARGETS[name].partition(":")
    return getattr(importlib.import_module(module), func)
