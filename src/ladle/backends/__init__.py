"""Choosing backend classes: the name-to-class tables, plugins named by class path."""
