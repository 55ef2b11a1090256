"""The shared SparkSession now lives in tests/backends.py; this name stays for tests written against it (on
other branches) and re-exports it. New tests import from ``backends``."""

from backends import SPARK_CONF as CONF
from backends import spark_session

__all__ = ["CONF", "spark_session"]
