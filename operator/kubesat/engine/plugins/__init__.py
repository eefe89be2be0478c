"""Placement and drain plugins, and the policies made of them."""
