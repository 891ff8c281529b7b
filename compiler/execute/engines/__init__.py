"""Engines that run a rule plan (`compiler.execute.plan`): polars in memory, SQL in DuckDB, PostgreSQL and Spark.

`polars` turns plan nodes into polars expressions over a prepared DataFrame; `sql` turns them
into a SQLGlot tree for a dialect; `duckdb` runs that SQL over a DataSource's files out of core,
`postgres` inside the database of a `format: sql` source, and `spark` in a Spark session over a
Parquet file or a table of the Spark catalog.
"""
