"""The kubesat Grafana dashboards as code (grafana-foundation-sdk): one module per dashboard,
the panel patterns they share in panels.py, and build.py writing the JSON the chart ships."""

import importlib
import warnings

# The SDK's classic Dashboard classes (and the v2beta1 one builders.prometheus imports) warn
# once, when first imported: new code should use the v2 schema. These dashboards stay classic
# JSON, what the chart's ConfigMaps and Grafana's sidecar provisioning load, so the SDK is
# imported quietly here, before any module of this package.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Prefer using dashboardv2", DeprecationWarning)
    for module in ("builders.dashboard", "builders.prometheus"):
        importlib.import_module(f"grafana_foundation_sdk.{module}")
