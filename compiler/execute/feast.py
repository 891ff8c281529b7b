"""Ingest of a `format: feast` source: Feast's own point-in-time join of an entity source's rows.

The entity rows are read by Charter's ingest (the entity DataSource's reader options and declared
types apply), then handed to `FeatureStore.get_historical_features`, Feast's offline store API: each
row gets every feature's latest value at or before the row's event timestamp (within the feature
view's TTL), so no value from the row's future leaks into it. The joined table then goes through
the feast source's declared schema like a file's rows (`ingest.enforce_schema`), and on to its
suite's cleaning and rules. Feast is imported here only, when such a source is read.

Feast resolves a relative SQLite registry URL against the working directory (its CLI runs in the
feature repository), so the join runs there. Feast returns rows in its own order; they come back in
the entity source's order, so that a split of the rows does not depend on Feast's version.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import polars as pl

from compiler.execute.errors import DataError, shorten
from compiler.execute.failure import RunError
from compiler.feastreg import RegistryError, read_registry

INSTALL = "pip install -c requirements/feast.txt 'charter[feast]'"
_ROW = "__charter_row"  # the entity row's position, carried through the join to restore the order
_TIME = "event_timestamp"  # the name Feast looks for first


def read_feast(params: dict, root: Path) -> pl.DataFrame:
    """The entity source's rows, each joined with its features as of its event timestamp."""
    from compiler.execute.ingest import read_source

    opts = params["feast"]
    repo = (root / opts["repo"]).resolve()
    try:  # Feast's own errors for these are a database driver's: say what is missing instead
        read_registry(repo)
    except RegistryError as exc:
        if exc.local:
            raise DataError(f"source `{params['source']}`: {exc.message} (feature repository `{opts['repo']}`)",
                            hint=exc.hint) from None
    try:
        import feast
        import feast.errors
    except ImportError:
        raise RunError(f"source `{params['source']}` joins features with Feast, which is not installed",
                       hint=INSTALL) from None
    entities = read_source(opts["entity_source"], root)
    stamp = opts["timestamp"]
    if stamp != _TIME and _TIME in entities.columns:
        raise DataError(f"source `{params['source']}`: the entity rows have a column `{_TIME}` besides the "
                        f"event timestamp `{stamp}`", column=_TIME,
                        hint=f"Feast takes `{_TIME}` as the event timestamp: set `feast.timestamp: {_TIME}`")
    if entities.get_column(stamp).null_count():
        rows = entities.get_column(stamp).is_null().arg_true().head(5).to_list()
        raise DataError(f"source `{params['source']}`: entity rows without an event timestamp `{stamp}`",
                        column=stamp, rows=rows, hint="drop them in the entity source, or give each row its time")
    frame = (entities.with_row_index(_ROW)
             .with_columns(pl.col(stamp).cast(pl.Datetime("us")).alias(_TIME))
             .drop(stamp if stamp != _TIME else []).to_pandas())
    try:
        with contextlib.chdir(repo):
            store = feast.FeatureStore(repo_path=str(repo))
            wanted = store.get_feature_service(opts["feature_service"]) if opts.get("feature_service") \
                else list(opts["features"])
            joined = store.get_historical_features(entity_df=frame, features=wanted,
                                                   full_feature_names=bool(opts.get("full_feature_names"))).to_df()
    except (feast.errors.FeastError, ValueError, KeyError, OSError) as exc:
        # Feast's own words: they name its objects (views, features, services), which the spec names too.
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"source `{params['source']}`: Feast's point-in-time join failed: {shorten(first, 300)}",
                        hint=f"`charter validate` checks the features against the registry; run `feast apply` "
                             f"in `{opts['repo']}` after changing its definitions") from None
    out = pl.from_pandas(joined).sort(_ROW).drop(_ROW)
    time = pl.col(_TIME)
    if getattr(out.schema[_TIME], "time_zone", None):  # Feast's UTC, as naive times like every other source's
        time = time.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    out = out.with_columns(time.dt.cast_time_unit("us"))
    return out.rename({_TIME: stamp}) if stamp != _TIME else out
