"""Backend drivers imported on first use, and connection settings shared by backends of one database."""
