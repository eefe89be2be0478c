"""`kubesat operator`: run the Kopf operator (standalone: one instance, no peering).

Importing this module needs neither Kopf nor a cluster; `run_operator` imports them.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from kubesat.spec import TESTED_CLUSTER_NODES


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be within [0, 65535], got {value}")
    return value


def add_operator_parser(commands: Any) -> None:
    """Register `kubesat operator`."""
    from kubesat.arguments import positive_number

    op = commands.add_parser(
        "operator",
        help="run the Kubernetes operator (satellites as nodes, pod runtime, scheduler)",
        description="Run the kubesat operator: every Satellite of every Constellation becomes "
        "a Node that lives by its orbit; GPU pods bound to them run in simulated time; "
        "kubesat-scheduler places pods; the policy drains pods ahead of eclipses and after "
        "upsets. Uses the in-cluster service account, or $KUBECONFIG / --kubeconfig.",
    )
    scope = op.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        metavar="NS",
        help="watch this namespace (repeatable; globs as Kopf takes them)",
    )
    scope.add_argument(
        "--all-namespaces",
        "-A",
        action="store_true",
        help="watch every namespace (the default when no --namespace is given)",
    )
    op.add_argument("--kubeconfig", default=None, metavar="PATH", help="kubeconfig file")
    op.add_argument(
        "--liveness-port",
        type=_port,
        default=None,
        metavar="N",
        help="serve http://0.0.0.0:N/healthz (Kopf's liveness endpoint)",
    )
    op.add_argument(
        "--metrics-port",
        type=_port,
        default=None,
        metavar="N",
        help="serve Prometheus metrics on http://0.0.0.0:N/metrics",
    )
    tuning = op.add_argument_group("tuning")
    tuning.add_argument(
        "--lease-renew-seconds",
        type=positive_number("seconds"),
        default=15.0,
        metavar="S",
        help="node Lease renewal period, wall seconds (default 15; kubelets use 10)",
    )
    tuning.add_argument(
        "--persist-seconds",
        type=positive_number("seconds"),
        default=5.0,
        metavar="S",
        help="how often durable state is written, wall seconds (default 5)",
    )
    tuning.add_argument(
        "--status-refresh-seconds",
        type=positive_number("seconds"),
        default=60.0,
        metavar="S",
        help="Satellite battery/position refresh period when nothing else changes (default 60)",
    )
    tuning.add_argument(
        "--concurrency",
        type=int,
        default=8,
        metavar="N",
        help="API requests in flight at once (default 8)",
    )
    tuning.add_argument(
        "--max-satellites",
        type=int,
        default=TESTED_CLUSTER_NODES,
        metavar="N",
        help="refuse a Constellation of more satellites (nodes) than this with an InvalidSpec "
        f"Event (default {TESTED_CLUSTER_NODES:,}, Kubernetes' tested nodes per cluster)",
    )
    op.add_argument("--verbose", "-v", action="store_true", help="log more")
    op.add_argument("--quiet", "-q", action="store_true", help="log warnings only")
    op.set_defaults(run=run_operator)


def run_operator(args: argparse.Namespace) -> int:
    try:
        import kopf
    except ImportError as error:
        raise ValueError(
            f"operator: needs Kopf and the Kubernetes client ({error}); "
            "install them with: pip install 'kubesat[operator]'"
        ) from None
    from kubesat.k8s import app  # noqa: F401  (registers the handlers)
    from kubesat.k8s.runtime import Options

    if args.kubeconfig:
        if not Path(args.kubeconfig).is_file():
            raise ValueError(f"--kubeconfig: no such file: {args.kubeconfig!r}")
        os.environ["KUBECONFIG"] = args.kubeconfig  # Kopf's own login reads it too
    if args.concurrency < 1:
        raise ValueError(f"--concurrency: must be >= 1, got {args.concurrency}")
    if args.max_satellites < 1:
        raise ValueError(f"--max-satellites: must be >= 1, got {args.max_satellites}")
    kopf.configure(verbose=args.verbose, quiet=args.quiet)
    if not args.verbose:
        logging.getLogger("kubernetes").setLevel(logging.WARNING)
    options = Options(
        lease_renew_seconds=args.lease_renew_seconds,
        persist_seconds=args.persist_seconds,
        status_refresh_seconds=args.status_refresh_seconds,
        max_satellites=args.max_satellites,
    )
    memo = kopf.Memo(
        options=options,
        kubeconfig=args.kubeconfig,
        metrics_port=args.metrics_port,
        concurrency=args.concurrency,
    )
    liveness = (
        f"http://0.0.0.0:{args.liveness_port}/healthz" if args.liveness_port is not None else None
    )
    kopf.run(
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=liveness,
        memo=memo,
    )
    return 0
