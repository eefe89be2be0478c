"""The Kubernetes shell: Kopf handlers, node agent, pod runtime, scheduler and metrics."""
