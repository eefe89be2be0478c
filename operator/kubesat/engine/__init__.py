"""The fleet engine: the state of a running constellation and its step, shared by both shells.

Pure (numpy and small dataclasses, no Kubernetes, no I/O). The standalone simulator drives
it with a simulated control plane; the operator drives it with the real API and only reads
events in and writes the engine's decisions out. What one does, the other does.
"""
