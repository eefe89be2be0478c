"""Test helpers: the local Kubernetes control plane (controlplane.py)."""
