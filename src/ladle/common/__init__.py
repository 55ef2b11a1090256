"""Leaf helpers every layer may use: canonical values, users' frames as Arrow, glob patterns."""
