"""nnlab deploy RUN_DIR|MODEL.onnx|MODEL.torchscript.pt --port N [--backend onnx|torch] [--token-file F] [...]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnlab.deploy.predictor import BACKENDS, Predictor
from nnlab.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deploy", help="serve a run or an exported model over HTTP (POST /predict, GET /health)")
    p.add_argument("target", help="a run directory, a .onnx file or a TorchScript file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--backend", choices=BACKENDS, help="onnx (ONNX Runtime, default) or torch (eager / TorchScript)")
    p.add_argument("--weights", default="best", choices=["best", "last"])
    p.add_argument("--max-batch", type=int, default=32, help="micro-batching: most images per model call")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="micro-batching: longest wait for company")
    p.add_argument("--no-batching", action="store_true", help="one model call per request")
    p.add_argument("--max-image-mb", type=float, default=10.0, help="largest accepted image upload")
    p.add_argument("--token-file", help="a file holding a bearer token that every request must send "
                                        "(Authorization: Bearer ...); without it, keep the server on loopback "
                                        "or behind an authenticating proxy")
    p.set_defaults(func=run)


def read_token_file(path: str) -> str:
    """The bearer token in ``path`` (its first line, stripped); a missing or empty file is a UserError."""
    try:
        token = Path(path).read_text().strip().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"--token-file {path}: cannot be read ({type(e).__name__})") from None
    if not token or len(token[0].strip()) < 16:
        raise UserError(f"--token-file {path}: the first line must hold a token of at least 16 characters")
    return token[0].strip()


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from nnlab.deploy.server import create_app  # FastAPI only when serving

    token = read_token_file(args.token_file) if args.token_file else None
    predictor = Predictor.open(args.target, args.backend, args.weights)
    app = create_app(predictor, not args.no_batching, args.max_batch, args.max_wait_ms,
                     int(args.max_image_mb * 2**20), token=token)
    if token is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host} without --token-file: anyone who can reach this port can use the "
              "model; keep it behind an authenticating proxy", file=sys.stderr)
    batching = "off" if args.no_batching else f"max {args.max_batch} images / {args.max_wait_ms:g} ms"
    print(f"serving {predictor.source} ({predictor.task}, {predictor.backend}, {len(predictor.classes)} classes, "
          f"micro-batching {batching}) on http://{args.host}:{args.port}  (POST /predict, GET /health; "
          f"{'bearer token required' if token else 'no authentication'}; Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
