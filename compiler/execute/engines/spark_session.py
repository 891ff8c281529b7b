"""The Spark session of `engine: spark` (and of ingest for a `format: spark` source), from its settings.

Input: the engine's settings (`master`: `local[2]` by default, a cluster's URL, or a Spark
Connect `sc://` URL). Output: a SparkSession in ANSI mode with its time zone UTC, so that a
`timestamp` reads as the wall time ingest gets and an overflow raises instead of wrapping.
Everything else (catalogs, credentials, executors) is Spark's own configuration:
`spark-defaults.conf` in `SPARK_CONF_DIR`, as for any Spark job. One process keeps one session:
starting a JVM takes seconds, so later checks reuse it while the master is the same.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from compiler.execute.failure import RunError

DEFAULTS = {"master": "local[2]"}
INSTALL = "pip install 'charter[spark]'"


def master_of(settings: dict) -> str:
    return str(settings.get("master") or DEFAULTS["master"])


def session(settings: dict, root: Path | None = None):
    """The session at the settings' master, started (or reused) with Charter's SQL settings.

    `root`, the repository: a local session started here keeps Spark's warehouse folder in its
    `.charter/` (Spark creates one when it starts) rather than wherever the command runs.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise RunError("`engine: spark` needs PySpark, which is not installed", hint=INSTALL) from None
    master = master_of(settings)
    active = SparkSession.getActiveSession()
    if active is not None and _master(active) != master:
        active.stop()
        active = None
    spark = active or _start(SparkSession, master, root)
    _quiet()
    for key, value in (("spark.sql.ansi.enabled", "true"), ("spark.sql.session.timeZone", "UTC")):
        spark.conf.set(key, value)
    return spark


def _quiet() -> None:
    """No JSON stack traces from PySpark's own loggers: the data check reports the error itself, in one line."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # an older PySpark, without them
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True


def _cores(master: str) -> int:
    """The threads of `local[N]` (`local[*]`: the machine's cores; `local`: one)."""
    found = re.match(r"local\[(\d+|\*)", master)
    if found is None:
        return 1
    return os.cpu_count() or 1 if found.group(1) == "*" else max(int(found.group(1)), 1)


def _master(spark) -> str | None:
    try:
        return spark.sparkContext.master
    except Exception:  # a Spark Connect session has no SparkContext: it was made from its URL
        return getattr(spark, "_charter_master", None)


def _start(SparkSession, master: str, root: Path | None = None):  # noqa: N803 - the class, imported once
    from pyspark.errors import PySparkException

    builder = SparkSession.builder.appName("charter check-data")
    if master.startswith("sc://"):
        builder = builder.remote(master)
    else:
        if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
            raise RunError(f"`engine: spark` at `{master}` starts Spark's JVM, and no Java runtime was found",
                           hint="install Java 17 or later (Debian: apt-get install openjdk-17-jre-headless), or "
                                "set JAVA_HOME; or give a Spark Connect `master: sc://host:15002`")
        builder = builder.master(master).config("spark.ui.enabled", "false").config(
            "spark.ui.showConsoleProgress", "false")
        if not (os.environ.get("SPARK_CONF_DIR") or os.environ.get("SPARK_HOME")):
            # errors only from the JVM's log, and the warehouse out of the work tree, unless
            # Spark's own configuration says otherwise
            os.environ.setdefault("LOG4J_CONFIGURATION_FILE", str(Path(__file__).with_name("log4j2.properties")))
            if root is not None:
                builder = builder.config("spark.sql.warehouse.dir", str(root.resolve() / ".charter/spark-warehouse"))
        if master.startswith("local"):
            # one machine: the driver listens on the loopback only, and a shuffle needs no more
            # partitions than cores (Spark's 200 cost a second per window on a small table)
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.driver.host", "127.0.0.1").config(
                "spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", str(_cores(master)))
    try:
        spark = builder.getOrCreate()
    except ImportError as exc:  # Spark Connect's client libraries (grpcio, pyarrow, pandas)
        raise RunError(f"a Spark Connect session needs `{exc.name}`, which is not installed",
                       hint="pip install 'pyspark[connect]' beside charter[spark]") from None
    except (PySparkException, RuntimeError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"cannot start a Spark session at `{master}`: {first[:300]}",
                       hint="check the `spark.master` setting and that the cluster is reachable") from None
    if master.startswith("sc://"):
        spark._charter_master = master
    else:
        spark.sparkContext.setLogLevel("ERROR")
    return spark
