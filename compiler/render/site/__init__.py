r"""Target `site`: a static HTML site for stakeholders, from the IR and what `SiteInputs` holds.

`index.html` lists every model with its health (gates, last run, drift, maturity level);
`models/<model>.html` has its lineage from source to deployment, the RACI matrix, the gates
and business metrics, the metrics per slice and per window, their history over the promoted
versions, the drift per feature of the latest monitor report and the model card. Charts are
Vega-Lite specs drawn by the vendored vega-embed (`assets/vendor/`), their data in the page:
the site opens from `file://` with no server and no network.

Escaping: the pages are Jinja2 templates with autoescaping on, so every spec value is HTML
text; chart specs are JSON in `<script type="application/json">` with `<`, `>` and `&`
written as `\u003c`-style escapes, so no value can close the script element. Deterministic:
sorted keys, numbers formatted without locale, no timestamp but those the inputs carry.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files

from compiler import __version__
from compiler.render.site.inputs import SiteInputs
from compiler.render.site.pages import index_page, model_page, num

# Files of `compiler/templates/site/` copied as they are: the vendored libraries (see their README) and ours.
ASSETS = ("site.css", "site.js", "vendor/vega.min.js", "vendor/vega-lite.min.js", "vendor/vega-embed.min.js",
          "vendor/vega.LICENSE", "vendor/vega-lite.LICENSE", "vendor/vega-embed.LICENSE", "vendor/README.md")
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(value: object) -> str:
    """JSON safe inside a <script> element: nothing in it can end the element or open a comment."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for raw, escaped in _ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


@functools.cache
def _environment():
    import jinja2
    import markupsafe

    env = jinja2.Environment(loader=jinja2.PackageLoader("compiler.templates", "site"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["num"] = num
    env.filters["script_json"] = lambda v: markupsafe.Markup(script_json(v))  # escaped for a script element
    env.globals["version"] = __version__
    return env


def _asset(name: str) -> str:
    return (files("compiler.templates") / "site" / name).read_text(encoding="utf-8")


def render_site(graph, inputs: SiteInputs) -> dict[str, str]:
    """Site-relative path -> text, sorted: every page and asset of the site."""
    env = _environment()
    common = {"inputs": inputs, "project": graph.project.get("name") or "Charter"}
    out = {f"assets/{name}": _asset(name) for name in ASSETS}
    out["index.html"] = env.get_template("index.html.j2").render(root="", **common, **index_page(graph, inputs))
    for model in graph.models:
        page = env.get_template("model.html.j2").render(root="../", **common, **model_page(model, inputs))
        out[f"models/{model.name}.html"] = page
    return dict(sorted(out.items()))


__all__ = ["ASSETS", "SiteInputs", "render_site", "script_json"]
