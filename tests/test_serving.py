"""Serving a class (:mod:`ser_core.serving`, ``python -m ser_core serve``)."""

from __future__ import annotations

import ipaddress
import ssl
import sys
import urllib.request

import pytest
from cryptography import x509

from ser_core import serving
from ser_core.cli import main
from tests.browser.conftest import streamlit_server


def test_certificate_names_the_laptop_and_its_addresses(tmp_path):
    cert_path, key_path = serving.self_signed_certificate(
        tmp_path, addresses=["192.168.1.23"], names=["lecturer-laptop"]
    )
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "lecturer-laptop"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("192.168.1.23"),
    }
    assert key_path.stat().st_mode & 0o077 == 0  # the key is the owner's alone


def test_streamlit_command_serves_the_room_over_https(tmp_path):
    cmd = serving.streamlit_command(port=9000, cert=(tmp_path / "c.pem", tmp_path / "k.pem"))
    assert cmd[cmd.index("--server.address") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--server.sslCertFile") + 1] == str(tmp_path / "c.pem")
    assert "--server.disconnectedSessionTTL" in cmd
    assert "--server.sslCertFile" not in serving.streamlit_command(port=9000)
    with pytest.raises(serving.ServingError, match="port 70000"):
        serving.streamlit_command(port=70000)
    assert serving.class_urls(port=8501, https=True, addresses=[]) == ["https://localhost:8501"]


def test_serve_dry_run_prints_what_students_open(tmp_path, capsys):
    assert main(["serve", "--https", "--dry-run", "--port", "8600", "--cert-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "students open:" in out and ":8600" in out and "https://" in out
    assert (tmp_path / "cert.pem").exists() and "--server.sslKeyFile" in out


def test_the_app_answers_over_https(tmp_path):
    cert = serving.self_signed_certificate(tmp_path, addresses=[])
    with streamlit_server(tmp_path, cert=cert) as (url, _log):
        context = ssl.create_default_context(cafile=str(cert[0]))  # trusts exactly this certificate
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5, context=context) as r:
            assert r.status == 200
    with pytest.raises(serving.ServingError, match="did not answer"):
        serving.wait_healthy(url, timeout=1)  # stopped


def test_memory_is_given_back_by_a_thread_of_its_own():
    """After a class leaves, freed memory goes back to the system (glibc's malloc_trim)."""
    import threading

    assert serving.trim_memory() in (True, False)  # False only without glibc
    assert serving.trim_memory() is True or not sys.platform.startswith("linux")
    thread = serving.keep_trimming(every=3600.0)  # (a test process must not collect all the time)
    assert isinstance(thread, threading.Thread) and thread.daemon and thread.is_alive()
