"""Feast sources: their entity source, and their features in the Feast registry (X317, X318, X319).

## What it does
For a `format: feast` DataSource, checks that `feast.repo` stays in the repository, that the
entity source is a file or database source with the `feast.timestamp` column as a date or
datetime, and that two features do not make one column. Then it reads the feature
repository's registry (the one `feature_store.yaml` names, a file or a SQLite registry) without
importing Feast or running the repository's Python, and checks that every feature view,
feature and feature service exists there, and that each declared column is an entity column
or a joined feature.

## Why is this bad?
A misspelt feature fails only when ingest runs Feast's join, long after the pull request
merged. A registry that `feast apply` never wrote cannot be checked (a warning), and Feast's
join cannot run until it is.

## Example
```yaml
kind: DataSource
spec:
  format: feast
  feast:
    repo: feature_repo
    entities: orders
    timestamp: order_time
    features: [driver_stats:conv_rte]
```

## Use instead
```yaml
kind: DataSource
spec:
  format: feast
  feast:
    repo: feature_repo
    entities: orders
    timestamp: order_time
    features: [driver_stats:conv_rate]
```
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, Label, make
from compiler.diagnostics.suggest import suggestion
from compiler.feastreg import Registry, RegistryError, read_registry
from compiler.spec import Spec
from compiler.validate.context import Context
from compiler.validate.frames import TEMPORAL, source_frame, unknown_column
from compiler.validate.rules.sources import unsafe_path

CODES = ("X317", "X318", "X319", "S225", "S226", "X304", "X308")


def check(ctx: Context) -> Iterator[Diagnostic]:
    for spec in ctx.specset.of_kind("DataSource"):
        opts = spec.model.spec.feast
        if opts is None:
            continue
        if why := unsafe_path(opts.repo):
            yield make("S225", f"unsafe feature repository path: {why}", ctx.span(spec, "/spec/feast/repo"),
                       pointer="/spec/feast/repo", help="give the folder relative to the repository root")
            continue
        entities = ctx.specset.get("DataSource", opts.entities)
        entity_cols = _entity_columns(ctx, spec, entities)
        if isinstance(entity_cols, Diagnostic):
            yield entity_cols
            entity_cols = None
        yield from _collisions(ctx, spec)
        registry = None
        if ctx.root is not None:
            try:
                registry = read_registry(ctx.root / opts.repo)
            except RegistryError as exc:
                code = "X319" if exc.missing or not exc.local else "X318"
                yield make(code, exc.message, ctx.span(spec, "/spec/feast/repo"), pointer="/spec/feast/repo",
                           help=exc.hint or ("the features are checked when ingest runs Feast's join"
                                             if not exc.local else None))
        features = None
        if registry is not None:
            features, problems = _resolve(ctx, spec, registry)
            yield from problems
        elif opts.features is not None:
            features = [tuple(f.split(":", 1)) for f in opts.features]
        if features is not None and entity_cols is not None:
            yield from _columns(ctx, spec, entity_cols, features)


def _entity_columns(ctx: Context, spec: Spec, entities: Spec | None) -> dict[str, str] | Diagnostic | None:
    """The entity source's columns, or the diagnostic that stops the checks that need them."""
    opts = spec.model.spec.feast
    if entities is None:
        return None  # an unknown source: X301 from the references rule
    if entities.model.spec.format == "feast":
        what = "itself" if entities.name == spec.name else f"the `feast` source `{entities.name}`"
        return make("S226", f"the entity rows of a `feast` source cannot be {what}",
                    ctx.span(spec, "/spec/feast/entities"), pointer="/spec/feast/entities",
                    help="name a file or database source with the join keys and event timestamps",
                    labels=(ctx.defined_here(entities, f"`{entities.name}` is defined here"),))
    cols = source_frame(entities).columns
    if opts.timestamp not in cols:
        return unknown_column(ctx, spec, "/spec/feast/timestamp", opts.timestamp, cols,
                              where=f"in the entity source `{entities.name}`")
    if cols[opts.timestamp] not in TEMPORAL:
        return make("X308", f"an event timestamp needs a date or datetime column, `{opts.timestamp}` is "
                            f"{cols[opts.timestamp]}", ctx.span(spec, "/spec/feast/timestamp"),
                    pointer="/spec/feast/timestamp",
                    labels=(ctx.defined_here(entities, f"`{entities.name}` is defined here"),))
    return cols


def _collisions(ctx: Context, spec: Spec) -> Iterator[Diagnostic]:
    opts = spec.model.spec.feast
    if opts.features is None or opts.full_feature_names:
        return
    first: dict[str, int] = {}
    for i, ref in enumerate(opts.features):
        name = ref.split(":", 1)[1]
        if name in first:
            earlier = opts.features[first[name]]
            yield make("S226", f"`{ref}` is listed twice" if earlier == ref else
                       f"`{ref}` and `{earlier}` both make the column `{name}`",
                       ctx.span(spec, f"/spec/feast/features/{i}"), pointer=f"/spec/feast/features/{i}",
                       labels=(Label(ctx.span(spec, f"/spec/feast/features/{first[name]}"), "first here"),),
                       help="remove one" if earlier == ref else
                       "set `full_feature_names: true` to name the columns `feature_view__feature`")
        first.setdefault(name, i)


def _resolve(ctx: Context, spec: Spec, registry: Registry) -> tuple[list[tuple[str, str]] | None, list[Diagnostic]]:
    """The (view, feature) pairs the join makes, and the references the registry does not know."""
    opts = spec.model.spec.feast
    where = f"in the Feast registry of project `{registry.project}`"
    if opts.feature_service is not None:
        service = registry.services.get(opts.feature_service)
        if service is None:
            return None, [make("X317", f"unknown feature service `{opts.feature_service}` {where}",
                               ctx.span(spec, "/spec/feast/feature_service"), pointer="/spec/feast/feature_service",
                               help=suggestion(opts.feature_service, registry.services, "feature services")
                               or "the registry has no feature service: run `feast apply` after adding one")]
        return list(service.features), []
    problems, pairs = [], []
    for i, ref in enumerate(opts.features or ()):
        view_name, feature = ref.split(":", 1)
        pointer = f"/spec/feast/features/{i}"
        view = registry.views.get(view_name)
        if view is None:
            problems.append(make("X317", f"unknown feature view `{view_name}` {where}", ctx.span(spec, pointer),
                                 pointer=pointer, help=suggestion(view_name, registry.views, "feature views")
                                 or "the registry has no feature view: run `feast apply` after adding one"))
        elif feature not in view.features:
            problems.append(make("X317", f"feature view `{view_name}` has no feature `{feature}`",
                                 ctx.span(spec, pointer), pointer=pointer,
                                 help=suggestion(feature, view.features, "features")))
        pairs.append((view_name, feature))
    return (None if problems else pairs), problems


def _columns(ctx: Context, spec: Spec, entity: dict[str, str], features) -> Iterator[Diagnostic]:
    """Each declared column is an entity column or a joined feature (`view__feature` with full names)."""
    full = spec.model.spec.feast.full_feature_names
    made = set(entity) | {f"{view}__{name}" if full else name for view, name in features}
    for i, column in enumerate(spec.model.spec.columns):
        if column.name not in made:
            yield unknown_column(ctx, spec, f"/spec/schema/{i}/name", column.name, made,
                                 where="in the entity rows or the joined features")
