"""Tests of the placement and drain plugins, one module per plugin."""
