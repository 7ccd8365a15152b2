"""nnlab token create NAME | list | revoke ID | logout ID|all   (API tokens of the workbench; stored hashed)"""
from __future__ import annotations

import argparse
from pathlib import Path

from nnlab.cli.options import database, existing_database
from nnlab.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="create, list or revoke workbench API tokens")
    p.add_argument("action", choices=["create", "list", "revoke", "logout"],
                   help="revoke also ends the token's browser sessions; logout ends them and keeps the token")
    p.add_argument("arg", nargs="?", help="create: a name for the token; revoke: its id; logout: its id or 'all'")
    p.add_argument("--runs", default="runs", help="the runs folder the workbench serves")
    p.add_argument("--db", default=None, help="job-store database URL (default: sqlite:///RUNS/web/workbench.db)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nnlab.web.service import Settings, open_store

    if args.action != "create":
        existing_database(args.runs, args.db)
    with database(args.db):
        store = open_store(Settings(runs=Path(args.runs), db_url=args.db))
    if args.action == "create":
        token = store.create_token(args.arg or "default")
        print(token)
        print("(shown once: only its hash is stored)")
    elif args.action == "list":
        for t in store.tokens():
            print(f"{t['id']:4d}  {t['name']:20s}  {t['created']}")
    elif args.action == "logout":
        if args.arg != "all" and not (args.arg or "").isdigit():
            raise UserError("nnlab token logout needs a token id (see nnlab token list) or 'all'")
        if args.arg != "all" and store.token(int(args.arg)) is None:
            raise UserError(f"no token with id {args.arg}")
        ended = store.end_sessions(None if args.arg == "all" else int(args.arg))
        print(f"ended the browser sessions of {len(ended)} token(s)")
    else:
        if not (args.arg or "").isdigit():
            raise UserError("nnlab token revoke needs the token's id (see nnlab token list)")
        if not store.revoke_token(int(args.arg)):
            raise UserError(f"no token with id {args.arg}")
        print(f"revoked token {args.arg} (its browser sessions ended with it)")
    return 0
