"""Argument helpers shared by the experiment commands (config overrides, CPU threads)."""
from __future__ import annotations

import argparse
import contextlib
import socket
from pathlib import Path
from typing import Iterator

import torch

from nnlab.errors import UserError


def overrides(args: argparse.Namespace) -> list[str]:
    """The ``--section.key=value`` overrides given after the command's own arguments."""
    extra = list(getattr(args, "overrides", []))
    bad = [o for o in extra if not (o.startswith("--") and "=" in o)]
    if bad:
        raise UserError(f"unrecognized arguments: {' '.join(bad)} (overrides look like --section.key=value)")
    return extra


def add_runs_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default="runs", help="runs root folder (default: runs)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads per training (small models on a busy CPU: 1 is often fastest)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def apply_threads(args: argparse.Namespace) -> None:
    if args.threads is not None:
        if args.threads < 1:
            raise UserError("--threads must be at least 1")
        torch.set_num_threads(args.threads)


@contextlib.contextmanager
def database(url: str | None) -> Iterator[None]:
    """Turn a ``--db`` URL the job store cannot open (unknown scheme, driver not installed, server down) into one
    message that names what to install or fix."""
    import sqlalchemy as sa

    try:
        yield
    except ModuleNotFoundError as e:
        if not url or url.startswith("sqlite"):
            raise
        raise UserError(f"--db {url.split(':', 1)[0]}:... needs the {e.name} driver: "
                        "pip install 'nnlab[search-db]' (PostgreSQL) or your database's SQLAlchemy driver") from None
    except sa.exc.ArgumentError as e:
        raise UserError(f"--db {url!r} is not a database URL SQLAlchemy knows ({e})") from None
    except sa.exc.OperationalError as e:
        raise UserError(f"--db: cannot open the database ({str(e.orig).strip().splitlines()[0]})") from None


def existing_database(runs: str, url: str | None) -> None:
    """Refuse to read a workbench database that is not there (``token list`` must not create one)."""
    if url is None or url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///")) if url else Path(runs) / "web" / "workbench.db"
        if not path.is_file():
            raise UserError(f"no workbench database at {path} (check --runs / --db; "
                            "`nnlab token create NAME` or `nnlab serve` makes one)")


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` before anything is printed or created; a taken port is one message."""
    if not 0 <= port < 65536:
        raise UserError(f"--port must be between 0 (any free port) and 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise UserError(f"--host {host}: {e.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); is another server running there? "
                        "Choose another --port") from None
    return sock
