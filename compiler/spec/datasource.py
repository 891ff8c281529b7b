"""`DataSource`: where a table comes from and what its columns are."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator

from compiler.plain import PLAIN_PATH
from compiler.spec.base import Column, Document, Duration, EnvVar, Name, Size, Strict, TableName

ColumnType = Literal["string", "integer", "float", "boolean", "category", "datetime", "date"]


class ColumnSchema(Strict):
    """One declared column. Ingest enforces the type; `nullable: false` rejects missing values."""

    name: Column = Field(description="Column name as it appears in the data.")
    type: ColumnType = Field(description="Logical type: string, integer, float, boolean, category, datetime or date.")
    nullable: bool = Field(True, description="Whether missing values are allowed.")
    description: str | None = Field(None, max_length=2000, description="What the column means.")
    values: list[str | int] | None = Field(
        None, min_length=1, description="Allowed values of a `category` column (optional)."
    )


class Connection(Strict):
    """A database connection. The URL is read from an environment variable at run time, so a
    credential never sits in git; without one, `path` names a SQLite file.
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    url_env: EnvVar = Field(description="Environment variable holding an SQLAlchemy URL.")


NullMarkers = list[Annotated[str, Field(max_length=100)]]


class CsvOptions(Strict):
    """Options of the CSV reader, for files as they are shipped (no hand editing)."""

    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")
    encoding: Literal["utf-8", "latin-1", "utf-16"] = Field("utf-8", description="Text encoding.")
    header: bool = Field(True, description="Whether the first line (after `skip_rows`) holds column names.")
    null_values: NullMarkers = Field(
        default_factory=list, max_length=100,
        description="Values that mean missing, such as `NA` or `-` (an empty field always does).")
    skip_rows: int = Field(0, ge=0, le=10000, description="Lines to skip before the header, e.g. a metadata line.")
    comment_prefix: str | None = Field(
        None, min_length=1, max_length=5, description="Lines starting with this are comments, e.g. `#`.")
    quote_char: str | None = Field('"', max_length=1, description="Quote character; `null` for none.")
    decimal: Literal[".", ","] = Field(".", description="Decimal separator of numbers: `.` or `,` (`1,5`).")

    @model_validator(mode="after")
    def _separators(self) -> CsvOptions:
        from pydantic_core import PydanticCustomError

        if self.decimal == "," and self.delimiter == ",":
            raise PydanticCustomError("charter_option", "`decimal: \",\"` needs another `delimiter`, such as `;`")
        if self.quote_char is not None and self.quote_char in (self.delimiter, ""):
            raise PydanticCustomError("charter_option", "`quote_char` must differ from `delimiter`")
        return self


class JsonlOptions(Strict):
    """Options of the JSON Lines reader."""

    null_values: NullMarkers = Field(
        default_factory=list, max_length=100, description="String values that mean missing, such as `NA`.")


# What a DataSource gets when neither it nor charter.yaml sets a limit (docs/runtime.md). Gzip
# shrinks real CSV files 3 to 20 times; zeros or one repeated line shrink about 1000 times.
DATA_LIMIT_DEFAULTS = {"max_decompressed_size": "1GiB", "max_compression_ratio": 100}


class DataLimits(Strict):
    """Bounds on reading a data file: a file past one is refused before it is read whole (exit 2).
    A DataSource's own value wins over `limits.data` in charter.yaml, which wins over the default.
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    max_file_size: Size | None = Field(
        None, description="Largest data file on disk (compressed size), e.g. `2GB`; default: no limit.")
    max_rows: int | None = Field(
        None, ge=1, le=10**12, description="Most data rows the file may hold; default: no limit.")
    max_decompressed_size: Size | None = Field(
        None, description="Most bytes a compressed file (gzip, bzip2, xz, zstd, zip) may inflate to; "
                          "default `1GiB`.")
    max_compression_ratio: int | None = Field(
        None, ge=2, le=100_000, description="Most times a compressed file may inflate its size, past its first "
                                            "MiB of output (a decompression bomb inflates 1000 times); default 100.")


Engine = Literal["polars", "duckdb", "postgres", "spark"]
# `local[N]`, a standalone, YARN, Kubernetes or Mesos cluster, or Spark Connect's `sc://` (no
# spaces, quotes or shell characters: generated jobs pass it on as one argument)
_SPARK_MASTER = re.compile(r"(local(\[([1-9][0-9]{0,3}|\*)(,[0-9]{1,3})?\])?|yarn|(spark|mesos|k8s|sc)://"
                           r"[A-Za-z0-9._:/\[\]@%=,+-]+)\Z")


def _spark_master(value: str) -> str:
    from pydantic_core import PydanticCustomError

    if not _SPARK_MASTER.match(value):
        raise PydanticCustomError(
            "charter_value", "`{shown}` is not a Spark master: use `local[N]`, `spark://host:7077`, `yarn`, "
                             "`k8s://https://host:443` or a Spark Connect `sc://host:15002`", {"shown": value[:80]})
    return value


SparkMaster = Annotated[str, AfterValidator(_spark_master), WithJsonSchema({
    "type": "string", "maxLength": 500, "pattern": "^" + _SPARK_MASTER.pattern.removesuffix("\\Z") + "$",
    "description": "A Spark master URL."})]


class DuckDBOptions(Strict):
    """Settings of `engine: duckdb` (docs/engines.md). A DataSource's own value wins over `duckdb`
    in charter.yaml, which wins over the default.
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    memory_limit: Size | None = Field(
        None, description="Most memory DuckDB may hold before it spills to disk, e.g. `4GiB`; default `1GiB`.")
    spill_folder: str | None = Field(
        None, max_length=300, pattern=PLAIN_PATH,
        description="Folder in the repository where DuckDB spills what does not fit in `memory_limit`; default "
                    "`.charter/duckdb`.")
    threads: int | None = Field(None, ge=1, le=1024, description="Threads DuckDB runs; default: one per core.")
    above: Size | None = Field(
        None, description="Run the data check of a source left on polars in DuckDB instead when its file is larger "
                          "than this, e.g. `2GiB` (a CSV or Parquet file whose prepare steps DuckDB runs); default: "
                          "never. Both engines give the same results (docs/engines.md).")


# What `engine: duckdb` reads and which prepare steps it runs as SQL (validate's S235 and the
# automatic switch of `duckdb.above` agree on them).
DUCKDB_FORMATS = ("csv", "parquet")
SQL_PREPARE_STEPS = ("rename", "drop_columns", "drop_null", "deduplicate", "standardize", "fill_null", "clip")


class SparkOptions(Strict):
    """Settings of `engine: spark` (docs/engines.md). A DataSource's own value wins over `spark` in
    charter.yaml, which wins over the default; everything else is Spark's own configuration
    (`spark-defaults.conf` in `SPARK_CONF_DIR`).
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    master: SparkMaster | None = Field(
        None, max_length=500,
        description="Where the Spark session runs: `local[N]` (N threads on this machine, in a JVM Charter "
                    "starts), a cluster's master URL (`spark://host:7077`, `yarn`, `k8s://...`) or a Spark "
                    "Connect server (`sc://host:15002`); default `local[2]`.")


class Freshness(Strict):
    """How old the newest row may be before the data counts as stale."""

    column: Column = Field(description="Timestamp column to measure.")
    max_age: Duration = Field(description="Largest accepted age of the newest row, e.g. `36h`.")


FeatureRef = Annotated[str, Field(
    max_length=300, pattern=r"^[^:\s]+:[^:\s]+$", description="A feature as `feature_view:feature`.")]


class FeastOptions(Strict):
    """Where a `format: feast` source's rows come from: Feast's point-in-time join of an entity DataSource's
    rows with feature views (docs/feast.md). Each row gets the feature values as of its event timestamp.
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    repo: str = Field(
        max_length=1024, pattern=PLAIN_PATH,
        description="Folder of the Feast feature repository (its `feature_store.yaml`), relative to the "
                    "repository root.")
    entities: Name = Field(
        description="DataSource of the entity rows: the feature views' join keys and an event timestamp per row.")
    timestamp: Column = Field(
        description="The entity source's event timestamp column: a row gets the feature values as of that time.")
    features: list[FeatureRef] | None = Field(
        None, min_length=1, max_length=1000, description="Features to join, as `feature_view:feature`.")
    feature_service: str | None = Field(
        None, min_length=1, max_length=255, description="A feature service naming the features, instead of "
                                                         "`features`.")
    full_feature_names: bool = Field(
        False, description="Name feature columns `feature_view__feature`, as Feast does, so that features of two "
                           "views never collide; default: the feature's name.")

    @model_validator(mode="after")
    def _one_list(self) -> FeastOptions:
        from pydantic_core import PydanticCustomError

        if (self.features is None) == (self.feature_service is None):
            raise PydanticCustomError("charter_option", "a `feast` source needs exactly one of `features` or "
                                                        "`feature_service`")
        return self


class DataSourceSpec(Strict):
    """The `spec` of a DataSource."""

    format: Literal["csv", "parquet", "jsonl", "json", "sql", "feast", "spark"] = Field(
        description="Storage format: `json` is one JSON array of objects (as Vega's data sets and many APIs "
                    "ship them), `jsonl` one object per line; `feast` joins features from a Feast repository "
                    "(`feast`); `spark` is a `table` of a Spark catalog, read by a Spark session (`spark`).")
    path: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="File path relative to the repository root (a SQLite file for `sql` without `connection`).",
    )
    query: str | None = Field(None, min_length=1, max_length=20000, description="SQL query, for `format: sql`.")
    table: TableName | None = Field(
        None, description="Table to read whole: for `format: sql` one name; for `format: spark` a table of the "
                          "Spark catalog, as `table`, `database.table` or `catalog.database.table`.")
    connection: Connection | None = Field(None, description="Database connection, for `format: sql`.")
    feast: FeastOptions | None = Field(None, description="The Feast repository and features, for `format: feast`.")
    csv: CsvOptions | None = Field(None, description="CSV reader options.")
    jsonl: JsonlOptions | None = Field(None, description="JSON reader options (`format: jsonl` or `json`).")
    columns: list[ColumnSchema] = Field(
        alias="schema", min_length=1, description="The typed column schema; ingest enforces it."
    )
    primary_key: list[Column] = Field(
        default_factory=list, description="Columns that identify a row; a `table` source is read in their order.")
    freshness: Freshness | None = Field(None, description="Staleness limit of the data.")
    retention: Duration | None = Field(
        None, description="How long the source keeps a row, e.g. `90d` (older rows are deleted where the data "
                          "lives): an evaluation window longer than this can never fill (X314).")
    watermark: Column | None = Field(
        None, description="For a database source: a column whose largest value grows when rows are added or changed "
                          "(e.g. `updated_at`); with the row count it is how `charter status --data` and "
                          "`retrain.on_data_change` see the data change.")
    limits: DataLimits | None = Field(None, description="Size, row and decompression limits of the file.")
    engine: Engine | None = Field(
        None, description="What runs `charter check-data` on this source: `polars` (in memory), `duckdb` (SQL "
                          "over the file, out of core), `postgres` (SQL inside the database of a `format: sql` "
                          "source) or `spark` (Spark SQL over a Parquet file or a `format: spark` table); default: "
                          "`engine` in charter.yaml, else `polars`.")
    duckdb: DuckDBOptions | None = Field(None, description="Settings of `engine: duckdb` for this source.")
    spark: SparkOptions | None = Field(
        None, description="Settings of the Spark session of `engine: spark` (and of reading a `format: spark` "
                          "source) for this source.")

    @model_validator(mode="after")
    def _format_fields(self) -> DataSourceSpec:
        from pydantic_core import PydanticCustomError

        if self.format == "sql":
            if (self.query is None) == (self.table is None):
                raise PydanticCustomError("charter_option", "a `sql` source needs exactly one of `query` or `table`")
            if self.connection is None and self.path is None:
                raise PydanticCustomError(
                    "charter_option", "a `sql` source needs `connection.url_env`, or `path` to a SQLite file"
                )
            if self.table is not None and "." in self.table:
                raise PydanticCustomError(
                    "charter_option", "a `sql` source's `table` is one name: read another schema's table with "
                                      "a `query`")
        elif self.format == "spark":
            if self.table is None:
                raise PydanticCustomError("charter_option", "a `spark` source needs `table`: a table of the Spark "
                                                            "catalog")
            for extra in ("path", "query", "connection"):
                if getattr(self, extra) is not None:
                    raise PydanticCustomError(
                        "charter_option", "`{field}` does not apply to `format: spark`: the rows come from `table`",
                        {"field": extra})
        elif self.format == "feast":
            if self.feast is None:
                raise PydanticCustomError("charter_option", "a `feast` source needs a `feast` block")
            for extra in ("path", "query", "table", "connection"):
                if getattr(self, extra) is not None:
                    raise PydanticCustomError(
                        "charter_option", "`{field}` does not apply to `format: feast`: the rows come from `feast`",
                        {"field": extra})
        else:
            if self.path is None:
                raise PydanticCustomError("charter_option", "a `{fmt}` source needs `path`", {"fmt": self.format})
            for extra in ("query", "table", "connection"):
                if getattr(self, extra) is not None:
                    raise PydanticCustomError(
                        "charter_option", "`{field}` applies only to `format: sql`" + (
                            " or `spark`" if extra == "table" else ""), {"field": extra}
                    )
        if self.feast is not None and self.format != "feast":
            raise PydanticCustomError("charter_option", "`feast` applies only to `format: feast`")
        if self.watermark is not None and (self.format != "sql" or self.connection is None):
            raise PydanticCustomError("charter_option", "`watermark` applies only to a `format: sql` source with a "
                                                        "`connection`: a file's fingerprint is its bytes")
        if self.csv is not None and self.format != "csv":
            raise PydanticCustomError("charter_option", "`csv` options apply only to `format: csv`")
        if self.jsonl is not None and self.format not in ("jsonl", "json"):
            raise PydanticCustomError("charter_option", "`jsonl` options apply only to `format: jsonl` or `json`")
        return self


class DataSource(Document):
    """A table of data: a file in the repository or a database query, with its column schema."""

    kind: Literal["DataSource"]
    spec: DataSourceSpec
