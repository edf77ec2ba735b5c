"""Serving the app to a class on the room's network, over HTTPS so microphones work.

Browsers give a page the microphone only on ``localhost`` or over HTTPS.  A student who
opens ``http://<laptop address>:8501`` gets none; :func:`self_signed_certificate` makes a
certificate for the laptop's names and addresses, and :func:`streamlit_command` the
``streamlit run`` line that serves the app with it (``python -m ser_core serve --https``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import functools
import gc
import ipaddress
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from .config import project_root
from .errors import SERError

#: Seconds a disconnected browser session is kept before its memory is released.
DISCONNECTED_SESSION_TTL_S = 120
#: Seconds between two returns of free memory to the system (:func:`keep_trimming`).
TRIM_EVERY_S = 60.0


class ServingError(SERError):
    """The app cannot be served as asked (no certificate, a busy port...)."""


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses that other machines in the room can reach, best first.

    The address of the default route comes first (found without sending a packet), then
    the host name's; loopback addresses are left out.  Empty when the machine has no network.
    """
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, contextlib.suppress(OSError):
        s.connect(("10.255.255.255", 1))  # UDP: picks the outgoing interface, sends nothing
        found.append(s.getsockname()[0])
    with contextlib.suppress(OSError):
        found += socket.gethostbyname_ex(socket.gethostname())[2]
    return [a for a in dict.fromkeys(found) if not ipaddress.ip_address(a).is_loopback]


def self_signed_certificate(
    directory: Path, *, addresses: list[str], days: int = 30, names: list[str] | None = None
) -> tuple[Path, Path]:
    """Write a self-signed certificate and its key for ``localhost``, ``names`` and ``addresses``.

    Returns ``(cert.pem, key.pem)`` in ``directory``.  Students' browsers warn once about a
    certificate they do not know ("Advanced" → "Proceed"); then the microphone works.
    """
    from cryptography import x509  # only for HTTPS serving
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    names = ["localhost", *(names if names is not None else [socket.gethostname()])]
    ips = {ipaddress.ip_address("127.0.0.1"), *map(ipaddress.ip_address, addresses)}
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nEMO speech emotion explorer")])
    now = dt.datetime.now(dt.UTC)
    san = [x509.DNSName(n) for n in dict.fromkeys(names)] + [x509.IPAddress(i) for i in sorted(ips)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def streamlit_command(
    *, port: int = 8501, address: str = "0.0.0.0", cert: tuple[Path, Path] | None = None
) -> list[str]:
    """The ``streamlit run app.py`` command line serving the app on ``address:port``
    (over HTTPS with ``cert = (cert.pem, key.pem)``)."""
    if not 1 <= port <= 65535:
        raise ServingError(f"port {port} is not a TCP port (1-65535)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(project_root() / "app.py")]
    cmd += ["--server.address", address, "--server.port", str(port)]
    cmd += ["--server.disconnectedSessionTTL", str(DISCONNECTED_SESSION_TTL_S)]
    # no source watcher: it costs CPU, and reloading a changed module under running
    # sessions makes their concurrent imports fail
    cmd += ["--server.fileWatcherType", "none"]
    # no full garbage collection after every run (65-100 ms of CPU each with the models
    # loaded; see .streamlit/config.toml)
    cmd += ["--runner.postScriptGC", "false"]
    if cert is not None:
        cmd += ["--server.sslCertFile", str(cert[0]), "--server.sslKeyFile", str(cert[1])]
    return cmd


def wait_healthy(
    url: str,
    *,
    proc: subprocess.Popen | None = None,
    timeout: float = 90.0,
    context: ssl.SSLContext | None = None,
) -> None:
    """Poll ``<url>/_stcore/health`` until the app answers (``context`` verifies an https
    server's certificate).

    Raises
    ------
    ServingError
        The server process ``proc`` exited, or nothing answered within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServingError(f"streamlit exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2, context=context) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise ServingError(f"the app did not answer on {url} within {timeout:.0f} s")


def class_urls(*, port: int, https: bool, addresses: list[str]) -> list[str]:
    """The addresses students type, one per LAN address (``localhost`` when there is none)."""
    scheme = "https" if https else "http"
    return [f"{scheme}://{a}:{port}" for a in (addresses or ["localhost"])]


def trim_memory() -> bool:
    """Collect garbage and hand the C heap's free pages back to the system (glibc's
    ``malloc_trim``), so the server's RSS falls once a class has left.

    Returns
    -------
    bool
        Whether the heap could be trimmed (False on a system without glibc).
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, looked up once (``find_library`` runs ``ldconfig``); None
    without glibc."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def keep_trimming(*, every: float = TRIM_EVERY_S) -> threading.Thread:
    """A daemon thread that calls :func:`trim_memory` every ``every`` seconds (one per
    server: sessions released after :data:`DISCONNECTED_SESSION_TTL_S` give their memory
    back to the system within a minute)."""

    def run() -> None:
        while True:
            time.sleep(every)
            trim_memory()

    thread = threading.Thread(target=run, name="ser-trim-memory", daemon=True)
    thread.start()
    return thread
