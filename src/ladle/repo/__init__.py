"""Repo loading: importing a repo's files, Feast import aliases, inference and checks at apply, ``ladle init``."""
