"""Ingestion: materialization (offline to online, local and Spark engines) and push."""
