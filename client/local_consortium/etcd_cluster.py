"""Starting and stopping a local etcd cluster (loopback, free ports) for a network.

Each member is an `etcd` process (Debian package etcd-server) with its own
data directory; a cluster is up when every member answers and one is leader.
Processes are stopped by PID, checking first that the PID still belongs to
the etcd we started (PIDs are reused).

With certificates (`certs`: a node-style certificate per member, issued by
the consortium CA), members talk TLS both ways: clients must present a
certificate from the CA (`--client-cert-auth --trusted-ca-file`) and so must
peers (`--peer-client-cert-auth --peer-trusted-ca-file`); every URL is
https.  etcd 3.4's JSON gateway dials the member's own gRPC server with the
member's certificate as a *client* certificate, so member certificates need
the clientAuth EKU as well as serverAuth, and an IP SAN for 127.0.0.1 (node
certificates have both).  Ed25519 member certificates work (Go's TLS has
supported Ed25519 since 1.13).
"""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from client.local_consortium.launcher import free_port, free_ports
from client.sdk.tls import TlsFiles, client_context

START_TIMEOUT_S = 30.0
# What keeps a long-running member's memory and disk flat (docs/OPERATIONS.md says why):
# a member holds every Raft entry since its last snapshot in memory (and its WAL files
# on disk), so it snapshots every 2,000 entries instead of etcd 3.4's 100,000; it keeps 2
# WAL files and 2 snapshots beyond those still needed; the backend quota is explicit.
SNAPSHOT_COUNT = 2000
QUOTA_BACKEND_BYTES = 2 * 1024**3
TUNING_FLAGS: tuple[str, ...] = (
    f"--snapshot-count={SNAPSHOT_COUNT}", "--max-wals=2", "--max-snapshots=2",
    f"--quota-backend-bytes={QUOTA_BACKEND_BYTES}")


class EtcdMissing(RuntimeError):
    """The etcd binary is not installed."""


@dataclass(frozen=True)
class EtcdMember:
    """One running member of a local etcd cluster."""

    name: str
    client_url: str
    peer_url: str
    data_dir: str
    log_path: str
    pid: int
    cert_file: str = ""  # TLS: this member's certificate, key and the CA (all or none)
    key_file: str = ""
    ca_file: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return the member as a JSON-ready dict (for network.json)."""
        return asdict(self)

    @property
    def tls(self) -> TlsFiles | None:
        """Return the member's TLS files, or None for a plain-HTTP member."""
        if not self.cert_file:
            return None
        return TlsFiles(Path(self.cert_file), Path(self.key_file), Path(self.ca_file))


def operator_context(members: list[EtcdMember]) -> ssl.SSLContext | None:
    """Return a client context presenting the first member's own certificate (or None).

    For the operator who started the cluster (waiting for a leader, finding
    it); nodes use their own certificates.
    """
    files = members[0].tls if members else None
    return None if files is None else client_context(files)


def etcd_binary() -> str:
    """Return the path of the etcd server binary, or raise EtcdMissing."""
    found = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None)
    if found is None:
        raise EtcdMissing("etcd is not installed (Debian: apt-get install etcd-server)")
    return found


def start_etcd_cluster(directory: Path, size: int = 3, *, detach: bool = False,
                       token: str = "ledger",
                       certs: Callable[[str], TlsFiles] | None = None,
                       tuning: Sequence[str] = TUNING_FLAGS) -> list[EtcdMember]:
    """Start a `size`-member etcd cluster under `directory`; wait until it has a leader.

    With `certs` (member name -> its TLS files), the cluster runs mutual TLS.
    `tuning` are the flags that bound the members' memory and disk
    (`TUNING_FLAGS`; a benchmark passes others to compare).
    """
    binary = etcd_binary()
    directory.mkdir(parents=True, exist_ok=True)
    names = [f"etcd{i + 1}" for i in range(size)]
    chosen = iter(free_ports(3 * size))  # distinct: client, peer and metrics of every member
    ports = {name: (next(chosen), next(chosen), next(chosen)) for name in names}
    tls = {name: certs(name) if certs is not None else None for name in names}
    scheme = "http" if certs is None else "https"
    initial = ",".join(f"{n}={scheme}://127.0.0.1:{ports[n][1]}" for n in names)
    members: list[EtcdMember] = []
    for name in names:
        client_port, peer_port, metrics_port = ports[name]
        members.append(_start_member(binary, directory, name, client_port, peer_port,
                                     metrics_port, initial, token, detach, tls[name],
                                     tuning))
    try:
        wait_for_leader([m.client_url for m in members], tls=operator_context(members))
    except Exception:
        stop_members(members)
        raise
    return members


def restart_member(member: EtcdMember, *, detach: bool = False,
                   tuning: Sequence[str] = TUNING_FLAGS) -> EtcdMember:
    """Start a stopped member again from its data directory (it rejoins the cluster)."""
    client_port = int(member.client_url.rsplit(":", 1)[1])
    peer_port = int(member.peer_url.rsplit(":", 1)[1])
    return _start_member(etcd_binary(), Path(member.data_dir).parent, member.name,
                         client_port, peer_port, free_port(), "", "", detach, member.tls, tuning)


def _tls_args(tls: TlsFiles | None) -> list[str]:
    if tls is None:
        return []
    files = ["--cert-file", str(tls.cert), "--key-file", str(tls.key),
             "--trusted-ca-file", str(tls.ca)]
    peer = ["--peer-cert-file", str(tls.cert), "--peer-key-file", str(tls.key),
            "--peer-trusted-ca-file", str(tls.ca)]
    return [*files, "--client-cert-auth", *peer, "--peer-client-cert-auth"]


def _start_member(binary: str, directory: Path, name: str, client_port: int, peer_port: int,
                  metrics_port: int, initial: str, token: str, detach: bool,
                  tls: TlsFiles | None, tuning: Sequence[str]) -> EtcdMember:
    scheme = "http" if tls is None else "https"
    client_url = f"{scheme}://127.0.0.1:{client_port}"
    peer_url = f"{scheme}://127.0.0.1:{peer_port}"
    data_dir = directory / name
    log_path = directory / f"{name}.log"
    args = [binary, "--name", name, "--data-dir", str(data_dir), "--log-level", "warn",
            "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--listen-metrics-urls", f"http://127.0.0.1:{metrics_port}", *tuning,
            *_tls_args(tls)]
    if initial:  # a first start; a restart reads the cluster from its data directory
        args += ["--initial-cluster", initial, "--initial-cluster-token", token,
                 "--initial-cluster-state", "new"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=detach)
    files = ("", "", "") if tls is None else (str(tls.cert), str(tls.key), str(tls.ca))
    return EtcdMember(name, client_url, peer_url, str(data_dir), str(log_path), process.pid,
                      *files)


def wait_for_leader(client_urls: list[str], timeout_s: float = START_TIMEOUT_S, *,
                    tls: ssl.SSLContext | None = None) -> None:
    """Wait until every member answers and reports the same elected leader.

    `tls` is the client context for https members (see `operator_context`).
    """
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        leaders = set()
        try:
            for url in client_urls:
                reply = httpx.post(url + "/v3/maintenance/status", json={}, timeout=1.0,
                                   verify=tls if tls is not None else True)
                leaders.add(reply.json().get("leader", "0"))
        except (httpx.HTTPError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if len(leaders) == 1 and "0" not in leaders:
                return
            last = f"leaders reported: {sorted(leaders)}"
        time.sleep(0.2)
    raise RuntimeError(f"the etcd cluster did not elect a leader within {timeout_s:.0f} s "
                       f"({last})")


def leader_index(client_urls: list[str], *, tls: ssl.SSLContext | None = None) -> int:
    """Return the index in `client_urls` of the current leader."""
    for index, url in enumerate(client_urls):
        status = httpx.post(url + "/v3/maintenance/status", json={}, timeout=2.0,
                            verify=tls if tls is not None else True).json()
        if status.get("leader") == status.get("header", {}).get("member_id"):
            return index
    raise RuntimeError("no member reports itself as leader")


def process_is(pid: int, executable_hint: str) -> bool:
    """Return whether `pid` is alive and its command line mentions `executable_hint`."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return executable_hint.encode() in cmdline


KILL_WAIT_S = 10.0  # how long a SIGKILLed process may take to be gone


def stop_pid(pid: int, executable_hint: str, *, kill: bool = False,
             timeout_s: float = 10.0) -> bool:
    """Stop `pid` if it is still the process we started; return whether it was running.

    SIGTERM first (SIGKILL with `kill`), SIGKILL after `timeout_s`; returns
    only once the process is gone, so its port and files are free.
    """
    if not process_is(pid, executable_hint):
        return False
    os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
    if _gone(pid, executable_hint, timeout_s):
        return True
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    if not _gone(pid, executable_hint, KILL_WAIT_S):
        raise OSError(f"process {pid} outlived SIGKILL for {KILL_WAIT_S:.0f} s")
    return True


def _gone(pid: int, executable_hint: str, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for `pid` to end (reaping it if it is our child)."""
    deadline = time.monotonic() + timeout_s
    while True:
        _reap(pid)
        if not process_is(pid, executable_hint):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop_members(members: list[EtcdMember], *, kill: bool = False) -> None:
    """Stop every member of a cluster."""
    for member in members:
        stop_pid(member.pid, member.data_dir, kill=kill)
