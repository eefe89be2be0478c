"""kubesat: an orbital AI data center run as a Kubernetes cluster."""

__version__ = "0.1.0"
