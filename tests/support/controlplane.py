"""A real Kubernetes control plane for the tests, run as local processes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are built from
pinned Go modules by ``deploy/controlplane/build.sh`` and started here on
loopback only, on free ports, in a temporary directory (like envtest or
kwokctl's binary runtime).  There is no kubelet: tests create Node objects
through the API and play the kubelet's part where they need to.

The API server runs as a cluster built by kubeadm or kind would: authorization
``Node,RBAC``, the default admission plugins plus NodeRestriction, service
account token signing, TLS with a generated CA.  Identities come from a static
token file written before the API server starts (see ``DEFAULT_USERS``); other
identities are reached by impersonation or through service-account tokens.

Python use::

    with LocalControlPlane() as cp:
        api = cp.api_client()                        # admin (system:masters)
        nobody = cp.api_client("kubesat-test-nobody")  # no RBAC at all

Shell use (state in ``${KUBESAT_CACHE:-~/.cache/kubesat}/cluster``)::

    python -m tests.support.controlplane up|status|down
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "deploy" / "controlplane" / "build.sh"

#: Binaries that must be present in the bin dir to run a control plane.
REQUIRED_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")

ADMIN_USER = "kubesat-admin"
NOBODY_USER = "kubesat-test-nobody"

#: Identities of the static token file: user name -> groups.
DEFAULT_USERS: Mapping[str, tuple[str, ...]] = {
    ADMIN_USER: ("system:masters",),
    "system:kube-controller-manager": (),
    "system:kube-scheduler": (),
    NOBODY_USER: (),
}

SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
STARTUP_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0


class ControlPlaneError(RuntimeError):
    """The control plane could not be started or used."""


class BinariesMissingError(ControlPlaneError):
    """The control-plane binaries are not built (run ``make controlplane``)."""


def cache_root() -> Path:
    """``$KUBESAT_CACHE``, or ``~/.cache/kubesat``."""
    env = os.environ.get("KUBESAT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "kubesat"


def pinned_versions() -> dict[str, str]:
    """Versions pinned in deploy/controlplane: {"kubernetes", "etcd", "helm"} -> "vX.Y.Z"."""
    wanted = {
        "kubernetes": ("go.mod", "k8s.io/kubernetes"),
        "etcd": ("etcd/go.mod", "go.etcd.io/etcd/server/v3"),
        "helm": ("helm/go.mod", "helm.sh/helm/v3"),
    }
    out = {}
    for key, (file, module) in wanted.items():
        text = (BUILD_SCRIPT.parent / file).read_text()
        match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", text, re.MULTILINE)
        if match is None:
            raise ControlPlaneError(f"{module} not required in deploy/controlplane/{file}")
        out[key] = match.group(1)
    return out


def _missing(bin_dir: Path) -> list[str]:
    return [b for b in REQUIRED_BINARIES if not os.access(bin_dir / b, os.X_OK)]


def expected_bin_dir() -> Path:
    """Where ``build.sh`` puts (or has put) the binaries of the pinned versions."""
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-bin-dir"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


def find_bin_dir(build: bool = True) -> Path:
    """The directory holding the control-plane binaries.

    ``$KUBESAT_CONTROLPLANE_BIN`` wins when set.  Otherwise the build cache of
    ``deploy/controlplane/build.sh`` is used; when binaries are missing there
    and ``build`` is true, build.sh is run (a cold build takes long: tens of
    minutes on 2 cores).  Raises BinariesMissingError when they are not there.
    """
    env = os.environ.get("KUBESAT_CONTROLPLANE_BIN")
    if env:
        bin_dir = Path(env)
        if missing := _missing(bin_dir):
            raise BinariesMissingError(f"KUBESAT_CONTROLPLANE_BIN={env} lacks {', '.join(missing)}")
        return bin_dir
    bin_dir = expected_bin_dir()
    if not _missing(bin_dir):
        return bin_dir
    if not build:
        raise BinariesMissingError(
            f"control-plane binaries not built in {bin_dir} "
            f"(missing {', '.join(_missing(bin_dir))}); run `make controlplane`"
        )
    if shutil.which("go") is None:
        raise BinariesMissingError("control-plane binaries not built and no Go toolchain on PATH")
    out = subprocess.run(["bash", str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True)
    bin_dir = Path(out.stdout.strip().splitlines()[-1])
    if missing := _missing(bin_dir):
        raise BinariesMissingError(f"build.sh ran but {bin_dir} lacks {', '.join(missing)}")
    return bin_dir


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def _make_ca(pki: Path, name: str, cn: str) -> None:
    _openssl(
        "req", "-x509", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "30",
        "-subj", f"/CN={cn}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        cwd=pki,
    )  # fmt: skip


def _make_cert(pki: Path, name: str, cn: str, ca: str, usage: str, sans: str = "") -> None:
    """An EC key and a certificate for ``cn`` signed by ``ca`` (usage serverAuth/clientAuth)."""
    ext = (
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage={usage}\n"
        "authorityKeyIdentifier=keyid\n"
        "subjectKeyIdentifier=hash\n"
    )
    if sans:
        ext += f"subjectAltName={sans}\n"
    (pki / f"{name}.ext").write_text(ext)
    _openssl(
        "req", "-new", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.csr",
        "-subj", f"/CN={cn}", cwd=pki,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-days", "30", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
        cwd=pki,
    )  # fmt: skip


def generate_pki(pki: Path) -> None:
    """Certificates and keys of the control plane, made with the ``openssl`` command.

    - ``ca``: the cluster CA (client CA of the API server, root CA of the pods,
      signer of CSRs) and ``serving``: the serving certificate of the API server,
      controller manager and scheduler (127.0.0.1, localhost, kubernetes.default...);
    - ``front-proxy-ca`` and ``front-proxy-client``: the request-header
      authentication of aggregated API servers, as kubeadm sets it up (the
      controller manager and scheduler expect it for delegated authentication);
    - ``sa.key``/``sa.pub``: the service-account token signing key (RSA 2048,
      RS256 being the usual algorithm there).

    EC P-256 keys for TLS keep this fast.
    """
    if shutil.which("openssl") is None:
        raise ControlPlaneError("the openssl command is needed to generate certificates")
    pki.mkdir(parents=True, exist_ok=True)
    _make_ca(pki, "ca", "kubesat-test-ca")
    sans = ",".join(
        [
            "IP:127.0.0.1",
            "DNS:localhost",
            "IP:10.96.0.1",
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
        ]
    )
    _make_cert(pki, "serving", "kube-apiserver", "ca", "serverAuth", sans)
    _make_ca(pki, "front-proxy-ca", "kubesat-test-front-proxy-ca")
    _make_cert(pki, "front-proxy-client", "front-proxy-client", "front-proxy-ca", "clientAuth")
    _openssl(
        "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key",
        cwd=pki,
    )  # fmt: skip
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    for key in pki.glob("*.key"):
        key.chmod(0o600)


@dataclass(frozen=True)
class Identity:
    """A user of the static token file."""

    name: str
    groups: tuple[str, ...]
    token: str


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


class LocalControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler on loopback.

    ``start()`` blocks until the API server is ready, the controller manager and
    the scheduler are healthy and the ``default`` ServiceAccount exists;
    ``stop()`` ends every process (process groups: SIGTERM, then SIGKILL) and
    removes the work dir unless ``keep_dir``.  Usable as a context manager.
    """

    def __init__(
        self,
        bin_dir: Path | str | None = None,
        work_dir: Path | str | None = None,
        users: Mapping[str, Sequence[str]] | None = None,
        keep_dir: bool = False,
        detach: bool = False,
    ) -> None:
        self.bin_dir = Path(bin_dir) if bin_dir else find_bin_dir()
        if missing := _missing(self.bin_dir):
            raise BinariesMissingError(f"{self.bin_dir} lacks {', '.join(missing)}")
        self._work_dir_given = work_dir is not None
        self.work_dir = Path(work_dir) if work_dir else None
        self.keep_dir = keep_dir
        #: Detached processes outlive this Python process (for the CLI's ``up``).
        self.detach = detach
        all_users = dict(DEFAULT_USERS)
        all_users.update({k: tuple(v) for k, v in (users or {}).items()})
        self.identities: dict[str, Identity] = {
            name: Identity(name, tuple(groups), secrets.token_hex(24))
            for name, groups in all_users.items()
        }
        self.ports: dict[str, int] = {}
        self._procs: list[_Proc] = []
        self.startup_seconds: float | None = None

    # -- paths -------------------------------------------------------------------------

    def _dir(self) -> Path:
        if self.work_dir is None:
            raise ControlPlaneError("control plane not started")
        return self.work_dir

    @property
    def log_dir(self) -> Path:
        return self._dir() / "logs"

    @property
    def pki_dir(self) -> Path:
        return self._dir() / "pki"

    @property
    def ca_path(self) -> Path:
        return self.pki_dir / "ca.crt"

    @property
    def kubeconfig_path(self) -> Path:
        """Kubeconfig of the admin user (group system:masters)."""
        return self._dir() / "admin.kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> LocalControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        t0 = time.monotonic()
        deadline = t0 + timeout
        if self.work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="kubesat-cp-"))
        if not self.detach:
            # Also stop at interpreter exit if the caller never gets to stop().
            atexit.register(self.stop)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        try:
            generate_pki(self.pki_dir)
            self._write_auth_files()
            self.ports = {
                name: free_port()
                for name in ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler")
            }
            self._write_kubeconfigs()

            self._spawn("etcd", self._etcd_args())
            self._wait("etcd /health", self._etcd_healthy, deadline)
            self._spawn("kube-apiserver", self._apiserver_args())
            self._wait(
                "kube-apiserver /readyz",
                self._https_ok(self.ports["apiserver"], "/readyz"),
                deadline,
            )
            self._spawn("kube-controller-manager", self._controller_manager_args())
            self._spawn("kube-scheduler", self._scheduler_args())
            self._wait(
                "kube-controller-manager /healthz",
                self._https_ok(self.ports["controller-manager"], "/healthz"),
                deadline,
            )
            self._wait(
                "kube-scheduler /healthz",
                self._https_ok(self.ports["scheduler"], "/healthz"),
                deadline,
            )
            self._wait(
                "ServiceAccount default/default",
                self._https_ok(
                    self.ports["apiserver"],
                    "/api/v1/namespaces/default/serviceaccounts/default",
                    token=self.identities[ADMIN_USER].token,
                ),
                deadline,
            )
        except BaseException as exc:
            report = self.log_tails()
            self.stop()
            if isinstance(exc, ControlPlaneError | subprocess.CalledProcessError):
                raise ControlPlaneError(f"{exc}\n{report}") from exc
            raise
        self.startup_seconds = time.monotonic() - t0

    def stop(self) -> None:
        """End every process (no process is left behind) and remove the work dir."""
        atexit.unregister(self.stop)
        procs, self._procs = self._procs, []
        # In reverse start order, one at a time: an API server whose etcd is
        # already gone takes its whole grace period to shut down.
        for p in reversed(procs):
            stop_process_groups([p.popen.pid])
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=1)
        if self.work_dir is not None and not self.keep_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            if not self._work_dir_given:
                self.work_dir = None

    def disown(self) -> dict[str, int]:
        """Leave the processes running past this object (``up``); return their pids.

        Stop them later with ``stop_process_groups`` (each leads its own group).
        """
        pids = self.pids()
        for p in self._procs:
            # Popen warns (ResourceWarning) when collected with its child still
            # running; the child is deliberately left to run here.
            p.popen.returncode = 0
        self._procs = []
        atexit.unregister(self.stop)
        return pids

    def restart_etcd(self, down_seconds: float = 0.0, timeout: float = STARTUP_TIMEOUT_S) -> float:
        """Stop etcd, wait `down_seconds`, start it again (same port, same data dir); return
        when it and the API server are healthy. Returns the seconds etcd was away."""
        return self._restart("etcd", self._etcd_args, self._etcd_healthy, down_seconds, timeout)

    def restart_apiserver(
        self, down_seconds: float = 0.0, timeout: float = STARTUP_TIMEOUT_S
    ) -> float:
        """Stop kube-apiserver, wait `down_seconds`, start it again (same port, same flags);
        return when it is ready. Returns the seconds it was away."""
        ready = self._https_ok(self.ports["apiserver"], "/readyz")
        return self._restart("kube-apiserver", self._apiserver_args, ready, down_seconds, timeout)

    def _restart(
        self,
        name: str,
        args: Callable[[], list[str]],
        healthy: Callable[[], bool],
        down_seconds: float,
        timeout: float,
    ) -> float:
        index = next(i for i, p in enumerate(self._procs) if p.name == name)
        old = self._procs.pop(index)
        started = time.monotonic()
        stop_process_groups([old.popen.pid])
        with contextlib.suppress(subprocess.TimeoutExpired):
            old.popen.wait(timeout=1)
        time.sleep(down_seconds)
        self._spawn(name, args())
        self._procs.insert(index, self._procs.pop())  # keep the start order for stop()
        deadline = time.monotonic() + timeout
        self._wait(f"{name} after a restart", healthy, deadline)
        self._wait(
            "kube-apiserver /readyz after a restart",
            self._https_ok(self.ports["apiserver"], "/readyz"),
            deadline,
        )
        return time.monotonic() - started

    def pids(self) -> dict[str, int]:
        return {p.name: p.popen.pid for p in self._procs}

    def log_tails(self, lines: int = 40) -> str:
        if self.work_dir is None or not self.log_dir.exists():
            return "(no logs)"
        parts = []
        for log in sorted(self.log_dir.glob("*.log")):
            parts.append(f"----- {log} (last {lines} lines) -----\n{_tail(log, lines)}")
        return "\n".join(parts) or "(no logs)"

    # -- clients -----------------------------------------------------------------------

    def kubeconfig_for_user(self, name: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig file for user ``name``.

        A user of the static token file (``DEFAULT_USERS`` or ``users=``) gets
        its own token.  Any other name is impersonated by the admin through
        ``as``/``as-groups``: kubectl and client-go honour that, but the Python
        client's kubeconfig loader ignores it, so use ``api_client()`` there.
        """
        ident = self.identities.get(name)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        if ident is not None and (not groups or tuple(groups) == ident.groups):
            path = self._dir() / f"{safe}.kubeconfig"
            path.write_text(yaml.safe_dump(self._kubeconfig(name, {"token": ident.token})))
        else:
            user: dict[str, Any] = {"token": self.identities[ADMIN_USER].token, "as": name}
            if groups:
                user["as-groups"] = list(groups)
            path = self._dir() / f"as-{safe}.kubeconfig"
            path.write_text(yaml.safe_dump(self._kubeconfig(name, user)))
        path.chmod(0o600)
        return path

    def kubeconfig_for_token(self, token: str, name: str = "token-user") -> Path:
        """A kubeconfig that authenticates with ``token`` (e.g. a ServiceAccount's)."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        path = self._dir() / f"token-{safe}.kubeconfig"
        path.write_text(yaml.safe_dump(self._kubeconfig(name, {"token": token})))
        path.chmod(0o600)
        return path

    def api_client(self, user: str = ADMIN_USER, groups: Sequence[str] = ()) -> Any:
        """A ``kubernetes.client.ApiClient`` for ``user`` (verifies TLS with the CA).

        Users of the token file authenticate with their token; any other name
        (or other groups; one at most) is impersonated by the admin.
        """
        ident = self.identities.get(user)
        if ident is not None and (not groups or tuple(groups) == ident.groups):
            return self.api_client_for_token(ident.token)
        client = self.api_client_for_token(self.identities[ADMIN_USER].token)
        impersonate(client, user, groups)
        return client

    def api_client_for_token(self, token: str) -> Any:
        from kubernetes import client as k8s

        cfg = k8s.Configuration()
        cfg.host = self.server
        cfg.ssl_ca_cert = str(self.ca_path)
        cfg.verify_ssl = True
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
        return k8s.ApiClient(cfg)

    def service_account_token(self, namespace: str, name: str, seconds: int = 3600) -> str:
        """A bound token of ServiceAccount ``namespace/name`` (TokenRequest API)."""
        from kubernetes import client as k8s

        api = self.api_client()
        try:
            req = k8s.AuthenticationV1TokenRequest(
                spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds)
            )
            resp = k8s.CoreV1Api(api).create_namespaced_service_account_token(name, namespace, req)
        finally:
            close_api_client(api)
        return resp.status.token

    # -- internals ---------------------------------------------------------------------

    def _write_auth_files(self) -> None:
        rows = []
        for i, ident in enumerate(self.identities.values()):
            groups = ",".join(ident.groups)
            rows.append(f'{ident.token},{ident.name},uid-{i},"{groups}"' if groups else
                        f"{ident.token},{ident.name},uid-{i}")  # fmt: skip
        path = self.pki_dir / "tokens.csv"
        path.write_text("\n".join(rows) + "\n")
        path.chmod(0o600)

    def _kubeconfig(self, user_name: str, user: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kubesat-local",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self.ca_path),
                    },
                }
            ],
            "users": [{"name": user_name, "user": user}],
            "contexts": [
                {
                    "name": "kubesat-local",
                    "context": {"cluster": "kubesat-local", "user": user_name},
                }
            ],
            "current-context": "kubesat-local",
            "preferences": {},
        }

    def _write_kubeconfigs(self) -> None:
        for name, file in (
            (ADMIN_USER, self.kubeconfig_path),
            ("system:kube-controller-manager", self._dir() / "controller-manager.kubeconfig"),
            ("system:kube-scheduler", self._dir() / "scheduler.kubeconfig"),
        ):
            file.write_text(
                yaml.safe_dump(self._kubeconfig(name, {"token": self.identities[name].token}))
            )
            file.chmod(0o600)

    def _etcd_args(self) -> list[str]:
        client = f"http://127.0.0.1:{self.ports['etcd']}"
        peer = f"http://127.0.0.1:{self.ports['etcd-peer']}"
        return [
            str(self.bin_dir / "etcd"),
            "--name=kubesat",
            f"--data-dir={self._dir() / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=kubesat={peer}",
            "--initial-cluster-state=new",
            # Test data only: skip fsync, keep the backend small.
            "--unsafe-no-fsync=true",
            "--quota-backend-bytes=1073741824",
            "--log-level=warn",
        ]

    def _apiserver_args(self) -> list[str]:
        pki = self.pki_dir
        return [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports['apiserver']}",
            # The apiserver's own Endpoints for the `kubernetes` Service may not
            # hold a loopback address; nothing in the cluster needs them here.
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={pki / 'serving.crt'}",
            f"--tls-private-key-file={pki / 'serving.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            # Request-header (front proxy) authentication, as kubeadm configures it.
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            "--authorization-mode=Node,RBAC",
            # Added to the default admission plugins, as kubeadm (and so kind) does.
            "--enable-admission-plugins=NodeRestriction",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ]

    def _component_common(self, name: str, port_key: str) -> list[str]:
        kubeconfig = self._dir() / f"{name}.kubeconfig"
        pki = self.pki_dir
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.ports[port_key]}",
            f"--tls-cert-file={pki / 'serving.crt'}",
            f"--tls-private-key-file={pki / 'serving.key'}",
            # One instance each: no need to wait for a leader election.
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ]

    def _controller_manager_args(self) -> list[str]:
        pki = self.pki_dir
        return [
            str(self.bin_dir / "kube-controller-manager"),
            *self._component_common("controller-manager", "controller-manager"),
            # The default set: job, garbage-collector, namespace, node-lifecycle,
            # taint-eviction, serviceaccount(-token), root-ca publisher, ...
            "--controllers=*",
            "--use-service-account-credentials=true",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--cluster-name=kubesat",
        ]

    def _scheduler_args(self) -> list[str]:
        return [
            str(self.bin_dir / "kube-scheduler"),
            *self._component_common("scheduler", "scheduler"),
        ]

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self._dir(),
                start_new_session=True,  # own process group: stop() kills the group
                close_fds=True,
            )
        self._procs.append(_Proc(name, popen, log))

    def _check_alive(self) -> None:
        for p in self._procs:
            rc = p.popen.poll()
            if rc is not None:
                raise ControlPlaneError(f"{p.name} exited with code {rc} during startup")

    def _wait(self, what: str, probe: Callable[[], bool], deadline: float) -> None:
        while True:
            self._check_alive()
            if probe():
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"timed out waiting for {what}")
            time.sleep(0.2)

    def _etcd_healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.ports['etcd']}/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.load(resp).get("health") == "true"
        except (OSError, ValueError):
            return False

    def _https_ok(self, port: int, path: str, token: str | None = None) -> Callable[[], bool]:
        ctx = ssl.create_default_context(cafile=str(self.ca_path))

        def probe() -> bool:
            req = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
            if token:
                req.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(req, timeout=2, context=ctx) as resp:
                    return resp.status == 200
            except (urllib.error.URLError, OSError):
                return False

        return probe


def impersonate(client: Any, user: str, groups: Sequence[str] = ()) -> None:
    """Make every request of ``client`` impersonate ``user`` (and at most one group).

    The API server takes one group per ``Impersonate-Group`` header, repeated
    for several, and the Python client sends each header once: more than one
    group cannot be impersonated with it (add a token identity instead).
    """
    if len(groups) > 1:
        raise ValueError("the Python client can impersonate one group at most")
    client.set_default_header("Impersonate-User", user)
    if groups:
        client.set_default_header("Impersonate-Group", groups[0])


def close_api_client(client: Any) -> None:
    """Close a kubernetes ApiClient and its pooled connections.

    ``ApiClient.close()`` leaves urllib3's sockets to the garbage collector,
    whose ResourceWarning fails tests under ``filterwarnings = error``.
    """
    client.close()
    with contextlib.suppress(AttributeError):
        client.rest_client.pool_manager.clear()


def stop_process_groups(pids: Sequence[int], grace: float = STOP_GRACE_S) -> None:
    """SIGTERM each process group, wait up to ``grace`` s, then SIGKILL what is left.

    Each pid must lead its own process group (started with start_new_session).
    """
    live = []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
            live.append(pid)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        live = [pid for pid in live if _group_alive(pid)]
        if live:
            time.sleep(0.1)
    for pid in live:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(_group_alive(p) for p in live) and time.monotonic() < deadline:
        time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    # Reap it if it is our child, so that a zombie does not count as alive.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies (not our children, not yet reaped) still count as group members;
    # a group whose members are all zombies is dead for our purposes.
    return any(not _is_zombie(pid) for pid in _group_members(pgid))


def _group_members(pgid: int) -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            yield int(entry.name)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


# -- CLI: a long-lived cluster for humans (make cluster-up / cluster-down) -------------


def _state_dir() -> Path:
    return cache_root() / "cluster"


def _state_file() -> Path:
    return _state_dir() / "state.json"


def _load_state() -> dict[str, Any] | None:
    try:
        return json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None


def _running(state: Mapping[str, Any]) -> dict[str, bool]:
    out = {}
    for name, pid in state.get("pids", {}).items():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            cmdline = ""
        out[name] = cmdline.endswith(name) and not _is_zombie(pid)
    return out


def _cmd_up(_: argparse.Namespace) -> int:
    state = _load_state()
    if state and any(_running(state).values()):
        print(f"cluster already running; export KUBECONFIG={state['kubeconfig']}")
        return 0
    shutil.rmtree(_state_dir(), ignore_errors=True)
    cp = LocalControlPlane(work_dir=_state_dir(), detach=True)
    cp.start()
    state = {
        "pids": cp.disown(),
        "kubeconfig": str(cp.kubeconfig_path),
        "server": cp.server,
        "bin_dir": str(cp.bin_dir),
        "log_dir": str(cp.log_dir),
        "tokens": {i.name: i.token for i in cp.identities.values()},
    }
    _state_file().write_text(json.dumps(state, indent=2))
    _state_file().chmod(0o600)
    print(f"control plane ready in {cp.startup_seconds:.1f}s at {cp.server}; logs in {cp.log_dir}")
    print(f"export KUBECONFIG={cp.kubeconfig_path}")
    return 0


def _cmd_down(_: argparse.Namespace) -> int:
    state = _load_state()
    if state:
        alive = _running(state)
        for name, pid in reversed(state["pids"].items()):
            if alive.get(name):
                stop_process_groups([pid])
    shutil.rmtree(_state_dir(), ignore_errors=True)
    print("cluster down")
    return 0


def _cmd_status(_: argparse.Namespace) -> int:
    state = _load_state()
    if not state:
        print("cluster not running")
        return 1
    alive = _running(state)
    for name, ok in alive.items():
        print(f"{name:26s} {'running' if ok else 'NOT running'} (pid {state['pids'][name]})")
    print(f"server {state['server']}\nexport KUBECONFIG={state['kubeconfig']}")
    return 0 if all(alive.values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.controlplane",
        description="Run the local Kubernetes control plane built by deploy/controlplane/build.sh.",
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up", help="start it in the background (state in the kubesat cache)")
    sub.add_parser("down", help="stop it and remove its data")
    sub.add_parser("status", help="show whether it runs")
    args = parser.parse_args(argv)
    try:
        return {"up": _cmd_up, "down": _cmd_down, "status": _cmd_status}[args.cmd](args)
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
