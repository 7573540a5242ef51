"""The course's own certificate authority for a Dask cluster that speaks TLS.

    microgradlab cluster-certs DIR [--host NAME ...] [--days N]

A Dask scheduler that anyone can reach runs anyone's code as the user its
workers run as (root, for the sandbox's uids). So the cluster speaks mutual
TLS (``tls://``): every connection shows a certificate signed by the course's
CA, and Dask (``distributed.security.Security``) refuses the rest. This module
writes, in DIR:

=================  ===================================  =====================
file               what it is                           where it goes
=================  ===================================  =====================
ca.pem             the course CA's certificate          every machine
ca.key             the CA's private key                 nowhere: it signs more
scheduler.pem/key  the scheduler's certificate and key  the scheduler
worker.pem/key     the workers' certificate and key     every worker
client.pem/key     the instructor's certificate and key where you grade from
=================  ===================================  =====================

Keys are written 0600 and DIR 0700. The client's certificate may only be used
by a client (extended key usage ``clientAuth``); the scheduler's and the
workers' serve and connect (``serverAuth`` and ``clientAuth``), since the
scheduler also dials the workers. Keys are ECDSA on P-256.

Dask checks that a peer's certificate chains to ``ca.pem``; it does not match
host names (``check_hostname`` is off in ``Security``: clusters are addressed
by IP). The names given with ``--host`` still go into the scheduler's
certificate (subject alternative names) and into the printed commands.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path

ROLES = ("scheduler", "worker", "client")
DEFAULT_PORT = 8786
DEFAULT_DAYS = 365


class CertificateError(ValueError):
    """The certificate folder cannot be written, or does not hold what a role needs."""


@dataclass(frozen=True)
class RoleFiles:
    ca: Path
    cert: Path
    key: Path


def files_for(folder: Path, role: str) -> RoleFiles:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    folder = Path(folder)
    return RoleFiles(folder / "ca.pem", folder / f"{role}.pem", folder / f"{role}.key")


def _crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise CertificateError("cluster-certs needs the cryptography package "
                               "(pip install -r requirements.lock)") from None
    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` 0600 from the first byte (never world-readable, not even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)  # whatever the umask did


def _write_public(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _alternative_names(x509, hosts):
    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def make_certificates(folder: Path, hosts: list[str] | None = None,
                      days: int = DEFAULT_DAYS) -> dict[str, RoleFiles]:
    """Write a new CA and the scheduler's, workers' and client's certificates into
    ``folder`` (created 0700; refused if it already holds any of the files)."""
    if days < 1:
        raise CertificateError(f"--days must be at least 1, got {days}")
    x509, hashes, serialization, ec, usage, NameOID = _crypto()
    folder = Path(folder)
    hosts = list(dict.fromkeys(hosts or [socket.getfqdn()]))
    names = ["ca.pem", "ca.key"] + [f"{r}.{e}" for r in ROLES for e in ("pem", "key")]
    if folder.exists() and not folder.is_dir():
        raise CertificateError(f"{folder} is a file, not a folder")
    present = [n for n in names if (folder / n).exists()]
    if present:
        raise CertificateError(f"{folder} already holds {', '.join(present)}: a new CA would "
                               "lock out every machine that has the old one. Name an empty "
                               "folder (or delete these files on purpose).")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)

    def key_pair():
        return ec.generate_private_key(ec.SECP256R1())

    def pem_key(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    def pem_cert(cert) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    ca_key = key_pair()
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "microgradlab"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "microgradlab course CA")])
    ca_cert = (x509.CertificateBuilder()
               .subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=False, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=True,
                   crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                              critical=False)
               .sign(ca_key, hashes.SHA256()))
    _write_private(folder / "ca.key", pem_key(ca_key))
    _write_public(folder / "ca.pem", pem_cert(ca_cert))

    uses = {"scheduler": [usage.SERVER_AUTH, usage.CLIENT_AUTH],
            "worker": [usage.SERVER_AUTH, usage.CLIENT_AUTH],
            "client": [usage.CLIENT_AUTH]}
    written = {}
    for role in ROLES:
        key = key_pair()
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([
                       x509.NameAttribute(NameOID.ORGANIZATION_NAME, "microgradlab"),
                       x509.NameAttribute(NameOID.COMMON_NAME, f"microgradlab {role}")]))
                   .issuer_name(ca_name)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.KeyUsage(
                       digital_signature=True, content_commitment=False,
                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                       key_cert_sign=False, crl_sign=False, encipher_only=False,
                       decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(uses[role]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       ca_key.public_key()), critical=False))
        if role == "scheduler":
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_alternative_names(x509, hosts)), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        files = files_for(folder, role)
        _write_private(files.key, pem_key(key))
        _write_public(files.cert, pem_cert(cert))
        written[role] = files
    return written


def check_role_files(folder: Path, role: str) -> RoleFiles:
    """The role's files in ``folder``, after checking they are there and that its key
    is readable by its owner only (as ssh insists for its keys)."""
    files = files_for(folder, role)
    for path in (files.ca, files.cert, files.key):
        if not path.is_file():
            raise CertificateError(f"{path} is missing: make the folder with "
                                   f"`microgradlab cluster-certs DIR` and copy it here")
    mode = files.key.stat().st_mode & 0o777
    if mode & 0o077:
        raise CertificateError(f"{files.key} can be read by other users (mode {mode:o}): "
                               f"run chmod 600 {shlex.quote(str(files.key))}")
    return files


def security_for(folder: Path, role: str = "client"):
    """A ``distributed.security.Security`` that requires TLS and shows ``role``'s
    certificate, from the files in ``folder``."""
    from distributed.security import Security

    files = check_role_files(folder, role)
    return Security(require_encryption=True, tls_ca_file=str(files.ca),
                    **{f"tls_{role}_cert": str(files.cert), f"tls_{role}_key": str(files.key)})


def commands(folder: Path, host: str, port: int = DEFAULT_PORT) -> str:
    """What to type on each machine, in its clone of the repository, to start a
    TLS cluster with the certificates of ``folder`` and grade through it."""
    here = Path(folder).resolve()
    address = f"tls://{host}:{port}"

    def flags(role: str) -> str:
        files = files_for(here, role)
        return " ".join(f"{option} {shlex.quote(str(path))}" for option, path in
                        (("--tls-ca-file", files.ca), ("--tls-cert", files.cert),
                         ("--tls-key", files.key)))
    return "\n".join([
        f"Certificates for a TLS cluster are in {here}.",
        "Copy the folder to the same path on every machine (scp -rp keeps the 0600 keys): "
        "the scheduler needs ca.pem and scheduler.*, each worker ca.pem and worker.*, "
        "the client ca.pem and client.*. Keep ca.key off the cluster.",
        "",
        "# on the scheduler machine, in its clone:",
        f".venv/bin/dask scheduler --protocol tls --host 0.0.0.0 --port {port} --no-dashboard "
        f"{flags('scheduler')}",
        "# on every worker machine, in its clone (one single-threaded worker per core):",
        f".venv/bin/dask worker {address} --nworkers 2 --nthreads 1 --no-dashboard "
        f"{flags('worker')}",
        "# where you grade from, in its clone:",
        f".venv/bin/microgradlab grade SUBMISSIONS -o OUT --scheduler {address} "
        f"--cluster-certs {shlex.quote(str(here))}",
    ])
