"""Choosing backend classes: one name-to-class table per backend kind (:mod:`ladle.backends.tables`), entry
points of third-party packages, and classes named by path in feature_store.yaml (:mod:`ladle.backends.plugins`)."""
