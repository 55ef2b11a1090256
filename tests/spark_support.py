"""One local SparkSession for the whole test run (JVM start-up is the slow part), and the skip rule for it.

Spark runs in local mode with two cores and two shuffle partitions; Java and pyspark come with the dev
extra. Without them, Spark tests skip — or fail under ``LADLE_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from typing import Any

import pytest

from services import unavailable

CONF = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.memory": "2g",
    "spark.sql.warehouse.dir": "/tmp/ladle-spark-warehouse",
    "spark.driver.extraJavaOptions": "-Dderby.system.home=/tmp/ladle-spark-derby",
}


@functools.cache
def _session() -> Any:
    from pyspark.sql import SparkSession

    # Python workers run this interpreter (the venv with ladle and pyarrow), not the first python3 on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("ladle-tests")
    for key, value in CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_session() -> Any:
    """The shared local SparkSession (created on first use)."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        unavailable("Spark", "java is not on PATH (Spark needs Java 17+)")
    return _session()
