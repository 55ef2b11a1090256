"""Retrieval: feature references, training sets (historical), online reads, on-demand views, the retrieval job."""
