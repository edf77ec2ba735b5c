"""The serve command: the app for a whole class on the room's network (HTTPS for microphones)."""

from __future__ import annotations

import argparse
import shlex
import subprocess

from ..config import project_root
from ..serving import class_urls, lan_addresses, self_signed_certificate, streamlit_command
from .base import arguments, command


@command("serve", "serve the app to a class on this network (--https: students' microphones work)")
@arguments(
    lambda p: (
        p.add_argument("--port", type=int, default=8501, help="TCP port (default 8501)"),
        p.add_argument(
            "--https",
            action="store_true",
            help="make a self-signed certificate for this laptop and serve over HTTPS "
            "(browsers give the microphone only to localhost or HTTPS pages)",
        ),
        p.add_argument(
            "--cert-dir",
            default=None,
            help="where the certificate is written (default: .cache/https)",
        ),
        p.add_argument(
            "--dry-run", action="store_true", help="print the URLs and the command, start nothing"
        ),
    )
)
def _serve(a: argparse.Namespace) -> int:
    addresses = lan_addresses()
    cert = None
    if a.https:
        directory = project_root() / ".cache" / "https" if a.cert_dir is None else a.cert_dir
        cert = self_signed_certificate(project_root() / directory, addresses=addresses)
        print(
            f"self-signed certificate for localhost and {', '.join(addresses) or 'no LAN address'}: {cert[0]}"
        )
    cmd = streamlit_command(port=a.port, cert=cert)
    print("students open:", *class_urls(port=a.port, https=a.https, addresses=addresses), sep="\n  ")
    if a.https:
        print("their browser warns once about the certificate: 'Advanced' -> 'Proceed'.")
    else:
        print("on http:// only this laptop gets a microphone; add --https for the students'.")
    print("$", shlex.join(cmd), flush=True)
    if a.dry_run:
        return 0
    return subprocess.call(cmd)
