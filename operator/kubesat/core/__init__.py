"""The pure physics and policy core: numpy and small dataclasses, no Kubernetes."""
