r"""What every YAML- and command-emitting target shares: a YAML writer and the step command line.

The YAML writer is safe and deterministic; the command line is the one that runs a pipeline step.

YAML: PyYAML's safe dumper with three changes, all for readers other than PyYAML.
- No anchors or aliases (`&id001`): PyYAML emits them for shared objects, GitHub rejects them.
- Strings that a YAML 1.2 reader would take for another type are quoted: PyYAML only knows
  YAML 1.1's resolvers, so it would write `0o17`, `0x1F` or `.NaN` plain, and GitHub's,
  Kubernetes' and GitLab's YAML 1.2 readers would read a number.
- Keys keep the order the renderer built (a Kubernetes manifest reads apiVersion, kind,
  metadata, spec), long lines are not folded, and text is UTF-8, not `\u` escapes.
Multi-line strings are written as literal blocks (`|`) where YAML can hold them exactly, else
double-quoted with escapes: either way they stay one scalar, so a spec value holding a newline
followed by `key: value` cannot add a key.
"""

from __future__ import annotations

import hashlib
import re

import yaml

from compiler.plain import plain_url

try:  # libyaml's emitter when present: the same output, several times faster
    from yaml import CSafeDumper as _Base
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeDumper as _Base  # type: ignore[assignment]  # the same interface, in pure Python


class _Dumper(_Base):
    def ignore_aliases(self, data) -> bool:
        return True


# YAML 1.2 core schema scalars that YAML 1.1 reads as strings: quote them.
_Dumper.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(0o[0-7]+|0x[0-9a-fA-F]+)$"),
                              list("-+0"))
_Dumper.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$"),
                              list("-+.0123456789"))
_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^([-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$"),
                              list("-+."))
# go-yaml v2 (Kubernetes-era Go tools) reads y/n as booleans too: quote them.
_Dumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(y|Y|n|N)$"), list("yYnN"))


def _str(dumper: _Dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(*documents) -> str:
    """One or more documents as YAML text; several are separated by `---`.

    Byte for byte what PyYAML writes (a test compares them on every target's output and on
    random documents), but most documents take a direct path: PyYAML's Python representer was
    the largest cost of rendering a large tree. Anything the direct path is not sure of (a
    double-quoted string, a multi-line string PyYAML would not write as a plain literal block,
    an unusual float or key) goes to PyYAML.
    """
    try:
        return "".join(("---\n" if len(documents) > 1 else "") + _fast(d) for d in documents)
    except _Fallback:
        return _pyyaml(*documents)


def _pyyaml(*documents) -> str:
    return yaml.dump_all([_unmarked(d) for d in documents], Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                         width=1 << 30, default_flow_style=False, explicit_start=len(documents) > 1)


class Parts(dict):
    """A mapping whose values' YAML text is remembered by content: the per-model jobs of a whole-graph file.

    A CI file holds a job or three per model; when one model changes, the others' jobs are the
    same text again. `dump_yaml` writes each value of a `Parts` once per content and indentation
    (`PARTS`, kept between compiles by `compiler/render/memo.py`); the text is exactly what it
    would write without it.
    """

    __slots__ = ()


PARTS: dict[str, str] = {}  # sha256 of (indentation, the value's JSON) -> its YAML text
PARTS_USED: set[str] = set()


def _unmarked(value):
    """`value` with every `Parts` a plain dict again, for PyYAML (which represents dict subclasses not at all)."""
    if isinstance(value, dict):
        return {k: _unmarked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    return value


def _part(v: dict, indent: int, out: list[str]) -> None:
    """`_mapping(v, indent)`, remembered: by the value's JSON, which keeps its order and types apart."""
    try:
        import orjson

        key = hashlib.sha256(b"%d\0" % indent + orjson.dumps(v)).hexdigest()
    except TypeError:  # a key or value JSON cannot hold: written without the memo
        _mapping(v, indent, out, "")
        return
    text = PARTS.get(key)
    if text is None:
        written: list[str] = []
        _mapping(v, indent, written, "")
        text = PARTS[key] = "".join(written)
    PARTS_USED.add(key)
    out.append(text)


class _Fallback(Exception):
    pass


_RESOLVER = _Dumper(None)  # type: ignore[arg-type]  # only its implicit resolvers are used: it never writes
_STR = "tag:yaml.org,2002:str"
_EMITTER = yaml.emitter.Emitter(None, allow_unicode=True, width=1 << 30)  # type: ignore[arg-type]  # analysis only
_SIMPLE_CHARS = re.compile("[\x20-\x7e\xa0-\ud7ff]*\\Z")
_STYLE: dict[str, str] = {}  # string -> how it is written in a block value (memo)


def _scalar_text(value: str, key: bool = False) -> str:
    form = _STYLE.get(value)
    if form is None:
        form = _STYLE[value] = _choose(value)
    if form == "plain":
        return value
    if form == "single" and not (key and not value):
        return "'" + value.replace("'", "''") + "'"
    raise _Fallback


# Words of letters, digits and `_./-` (not leading with `-` or `.`), single spaces between: PyYAML's
# analysis allows them plain and single-quoted in a block, so only the resolver decides (most
# strings of a rendered file: names, paths, images, descriptions). The analysis costs 30 times more.
_WORDS = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./-]*(?: [A-Za-z0-9_./-]+)*\Z")


def _choose(value: str) -> str:
    """PyYAML's choose_scalar_style for a block-context string (see yaml/emitter.py)."""
    if _WORDS.match(value):
        return "plain" if _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR else "single"
    if "\n" in value:
        return _literal(value)
    if not _SIMPLE_CHARS.match(value):
        return "other"  # libyaml and PyYAML's Python emitter disagree on what is printable
    implicit = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR
    # One line of printable characters (checked above): PyYAML's analysis allows it single-quoted,
    # and plain in a block unless `_block_plain` finds what its character loop would (the loop is
    # pure Python, and the long expressions of alert rules and CI conditions made it a fifth of a
    # render; a property test compares the two).
    if value and implicit and _block_plain(value):
        return "plain"
    return "single"


_LEADING_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")


def _block_plain(value: str) -> bool:
    """`analyze_scalar(value).allow_block_plain` for a non-empty line of `_SIMPLE_CHARS`.

    In such a line the only white space is the space: no leading or trailing space, no `---` or
    `...` start, no indicator first (`-`, `?` and `:` only when a space or the end follows), and
    no `: `, `:` at the end or ` #` inside.
    """
    first = value[0]
    if first == " " or value[-1] == " " or first in _LEADING_INDICATORS or value.startswith(("---", "...")):
        return False
    if first in "-?:" and (len(value) == 1 or value[1] == " "):
        return False
    return value.find(": ", 1) < 0 and not (len(value) > 1 and value[-1] == ":") and " #" not in value


def _literal(value: str) -> str:
    """`literal` when PyYAML writes this multi-line string as a plain `|` or `|-` block (`_str` asks for one).

    The rest goes to PyYAML: leading spaces or breaks (an indentation indicator), more than one
    trailing break (`|+`, which also ends the document with `...`), a space before a break
    (PyYAML then double-quotes), and characters outside the printable set or other line breaks.
    """
    if value[0] in " \n" or value.endswith("\n\n") or not _SIMPLE_CHARS.match(value.replace("\n", "")):
        return "other"
    if any(ch in value for ch in "\x85\u2028\u2029"):
        return "other"
    return "literal" if _EMITTER.analyze_scalar(value).allow_block else "other"


def _block(value: str, indent: int) -> list[str]:
    """The indicator and lines of a literal block whose content is indented by `indent`.

    PyYAML's write_literal: `-` when the text does not end with a break; empty lines carry no
    indentation.
    """
    body = value[:-1] if value.endswith("\n") else value
    pad = " " * indent
    return [" |\n" if value.endswith("\n") else " |-\n",
            *(pad + line + "\n" if line else "\n" for line in body.split("\n"))]


def _is_literal(v) -> bool:
    if not isinstance(v, str) or "\n" not in v:
        return False
    form = _STYLE.get(v)
    if form is None:
        form = _STYLE[v] = _choose(v)
    return form == "literal"


def _value(v) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise _Fallback
        text = repr(v).lower()
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e", 1)
        return text
    if isinstance(v, str):
        return _scalar_text(v)
    if v == {} and isinstance(v, dict):
        return "{}"
    if v == [] and isinstance(v, list):
        return "[]"
    raise _Fallback


def _fast(doc) -> str:
    out: list[str] = []
    if isinstance(doc, dict) and doc:
        _mapping(doc, 0, out, "")
    elif isinstance(doc, list) and doc:
        _sequence(doc, 0, out, "")
    else:
        raise _Fallback
    return "".join(out)


def _mapping(d: dict, indent: int, out: list[str], first: str) -> None:
    pad = " " * indent
    lead = first
    parts = type(d) is Parts
    for k, v in d.items():
        if not isinstance(k, str):
            raise _Fallback
        key = _scalar_text(k, key=True)
        prefix = lead if lead else pad
        lead = ""
        if isinstance(v, dict) and v:
            out.append(f"{prefix}{key}:\n")
            if parts:
                _part(v, indent + 2, out)
            else:
                _mapping(v, indent + 2, out, "")
        elif isinstance(v, list) and v:
            out.append(f"{prefix}{key}:\n")
            _sequence(v, indent, out, "")
        elif _is_literal(v):
            out.append(f"{prefix}{key}:")
            out.extend(_block(v, indent + 2))
        else:
            out.append(f"{prefix}{key}: {_value(v)}\n")


def _sequence(items: list, indent: int, out: list[str], first: str) -> None:
    pad = " " * indent
    lead = first
    for v in items:
        prefix = lead if lead else pad
        lead = ""
        if isinstance(v, dict) and v:
            _mapping(v, indent + 2, out, prefix + "- ")
        elif isinstance(v, list) and v:
            _sequence(v, indent + 2, out, prefix + "- ")
        elif _is_literal(v):
            out.append(f"{prefix}-")
            out.extend(_block(v, indent + 2))
        else:
            out.append(f"{prefix}- {_value(v)}\n")


def model_view(project: dict, name: str) -> dict:
    """The project settings as one model's files see them: of the lock's versions, that model's only.

    A model's files are then a function of the model and of settings every model shares, which
    is what lets `charter compile` reuse them while the model is unchanged (`compiler/render/memo.py`).
    """
    versions = project.get("versions")
    if versions is None:
        return project
    return {**project, "versions": {name: versions[name]} if name in versions else {}}


def assemble(graph, out: str, render_model, render_shared) -> dict[str, str]:
    """A per-model target's files: each model's (from its view of the project), then the shared ones."""
    files: dict[str, str] = {}
    for model in graph.models:
        files.update(render_model(model_view(graph.project, model.name), model, out))
    files.update(render_shared(graph, out))
    return dict(sorted(files.items()))


def trigger_check_settings(model) -> dict:
    """Pod settings of a retraining trigger's check (the monitor, the data poll): the monitor's, never retried.

    Its failing exit code is the news (an alert, changed data) that starts the retraining; a
    retry would only run the check again.
    """
    return {k: v for k, v in (model.compute.get("monitor") or {}).items() if k != "retries"}


def step_argv(model: str, step: str, *, check: bool = False) -> list[str]:
    """The command that runs one step of a pipeline in the project's image: the same on every target.

    Names are DNS-1123 labels (validated), so no quoting is ever needed; callers still pass it as
    an argument list, never through a shell.
    """
    if check:  # a data-only check (a suite or source not used by a model) has one command
        return ["charter", "check-data", model]
    return ["charter", "run", model, "--step", step]


# The push job of the CI targets, after `$BEFORE` holds the commit before the push: run the
# models whose pipelines changed since then, or all of them when there is no such commit
# (the first push of a branch, or a force push that dropped it).
RUN_AFFECTED = """\
if ! git cat-file -e "${BEFORE}^{commit}" 2>/dev/null; then
  BEFORE="$(git rev-parse --verify --quiet HEAD~1 || true)"
fi
if [ -n "$BEFORE" ]; then
  charter run --affected --base "$BEFORE"
else
  charter run --all
fi
"""


def image(project: dict) -> str:
    """The container image that has `charter` installed (`image` in charter.yaml)."""
    from compiler import __version__

    return project.get("image") or f"ghcr.io/charter-ml/charter:{__version__}"


# Where pipeline pods find the repository: the project's image holds charter and a copy of the
# repository at this path (built per commit by CI), so `charter run` sees the specs there.
WORKDIR = "/workspace"


_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}


def sunday_as_zero(expr: str) -> str:
    """A five-field cron with Sunday written as 0 only.

    Crontab (and the validator) accept 7, Argo's robfig/cron and GitHub's scheduler do not. Other
    expressions are returned as is.
    """
    fields = expr.split()
    if len(fields) != 5 or not any(_has_seven(item) for item in fields[4].split(",")):
        return expr
    days: set[int] = set()
    for item in fields[4].lower().split(","):
        span, _, step = item.partition("/")
        low, _, high = span.partition("-")
        first, last = (0, 7) if span == "*" else (_day(low), _day(high or low))
        if step and span != "*" and not high:
            last = 7  # `5/2`: from 5 to the end, every 2
        days.update(d % 7 for d in range(first, last + 1, int(step or 1)))
    return " ".join([*fields[:4], ",".join(map(str, sorted(days)))])


def _day(token: str) -> int:
    return _DAYS[token] if token in _DAYS else int(token)


def _has_seven(item: str) -> bool:
    return "7" in item.partition("/")[0].split("-")


def shared_store(project: dict) -> str | None:
    """The store generated jobs and servers reach.

    That is `shared_store`, else an `artifact_store` that is such a URL other machines can open
    (not `file://`); None when there is only a folder (or a URL with characters that would need
    quoting: it is then left to charter.yaml, which the jobs read).
    """
    declared = project.get("shared_store")
    if declared:
        if not plain_url(declared):  # validation rejects it; a hand-made IR might hold it
            raise ValueError(f"refusing shared_store {declared!r}: not a plain URL")
        return declared.rstrip("/")
    store = project.get("artifact_store") or ".charter/artifacts"
    return store.rstrip("/") if plain_url(store) and not store.startswith("file://") else None


# --- pod settings (the IR's merged `compute` of a step) in Kubernetes' own shapes -------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(duration: str) -> int:
    """A spec duration (`30m`, `1h30m`, `7d`) in seconds."""
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)([smhdw])", duration))


def go_duration(text: str) -> str:
    """A spec duration as Go's time.ParseDuration reads it (Argo's and Argo Rollouts' parser).

    It has no days or weeks: those become hours.
    """
    if not re.search(r"[dw]", text):
        return text
    hours, rest = divmod(seconds(text), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h" + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")


def pod_resources(settings: dict) -> dict:
    """A container's `resources`: requests, limits, and GPUs as a limit of their resource name."""
    res = settings.get("resources") or {}
    out: dict = {}
    if res.get("requests"):
        out["requests"] = dict(res["requests"])
    limits = dict(res.get("limits") or {})
    if res.get("gpus"):
        limits[res["gpu_type"]] = str(res["gpus"])  # a quantity: a string in every schema
    if limits:
        out["limits"] = limits
    return out


def secret_env(settings: dict) -> list[dict]:
    """`env` entries reading each declared variable from its Secret (`secretKeyRef`), by name."""
    return [{"name": var, "valueFrom": {"secretKeyRef": {"name": ref["name"], "key": ref["key"]}}}
            for var, ref in sorted((settings.get("secrets") or {}).items())]


def tolerations(settings: dict) -> list[dict]:
    """Tolerations in Kubernetes' field order (key, operator, value, effect)."""
    return [{k: t[k] for k in ("key", "operator", "value", "effect") if t.get(k) is not None}
            for t in settings.get("tolerations") or ()]


def timeout_seconds(settings: dict) -> int | None:
    return seconds(settings["timeout"]) if settings.get("timeout") else None


def manifest(out: str, environment: str, model: str) -> str:
    """Where the kubernetes target writes a model's manifest for one environment."""
    return f"{out}/kubernetes/{environment}/{model}.yaml"


def auto_merge_manifests(graph, out: str) -> list[str]:
    """The manifests of environments whose promotions may merge themselves (`auto_merge: true`).

    Validation allows it only with `approval: none`: no declared approval is ever skipped.
    """
    return sorted({manifest(out, env["name"], model.name) for model in graph.models for policy in model.rollouts
                   for env in policy["environments"] if env.get("auto_merge")})


# The promotion's deployments (manifests that changed in its commit) when every one of them is in
# the newline-separated list in $ALLOWED, else nothing: POSIX sh, for the GitHub and GitLab jobs.
ONLY_AUTO_MERGE = """\
allowed="$(mktemp)"
printf '%s\\n' "$ALLOWED" > "$allowed"
deploys="$(git diff --name-only HEAD~1 HEAD -- "$MANIFESTS" | grep -v '/kustomization\\.yaml$' || true)"
others="$(printf '%s\\n' "$deploys" | grep -vxF -f "$allowed" || true)"
rm -f "$allowed"
"""
