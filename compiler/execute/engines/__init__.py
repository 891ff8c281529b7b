"""Engines that run a rule plan (`compiler.execute.plan`): polars in memory, SQL in DuckDB.

`polars` turns plan nodes into polars expressions over a prepared DataFrame; `sql` turns them
into a SQLGlot tree for a dialect; `duckdb` runs that SQL over a DataSource's files out of core.
"""
