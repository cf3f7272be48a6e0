"""Command line for the embedded AWS world. See ``python -m tests.world --help``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
from typing import Any


def _endpoint(args: argparse.Namespace) -> str:
    endpoint = args.endpoint or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        sys.exit("error: give --endpoint URL (or set AWS_ENDPOINT_URL)")
    return endpoint


def _print(data: Any, out: str | None = None) -> None:
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import start_world

    server = start_world(port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.endpoint_file:  # written atomically, once the server accepts connections
        # The edge's URL first: whoever waits for the endpoint file then finds both.
        _write_atomically(args.endpoint_file + ".edge", server.edge_url)
        _write_atomically(args.endpoint_file, server.endpoint)
    print(server.endpoint, flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
        if args.endpoint_file:
            for path in (args.endpoint_file, args.endpoint_file + ".edge"):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
    return 0


def _write_atomically(path: str, line: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False) as handle:
        handle.write(line + "\n")
    os.replace(handle.name, path)


def cmd_seed(args: argparse.Namespace) -> int:
    from .seed import seed

    _print(seed(_endpoint(args), args.lag_seconds, outage_writes=args.outage_writes), args.out)
    return 0


def cmd_lag(args: argparse.Namespace) -> int:
    from .control import World

    world = World(_endpoint(args))
    if args.clear:
        world.clear_lag(args.replica, args.region)
    else:
        world.set_lag(args.replica, args.seconds, args.region)
    _print(world.lags())
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from .control import World

    world = World(_endpoint(args))
    patch = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        try:
            patch[key] = json.loads(value)
        except json.JSONDecodeError:
            patch[key] = value  # a bare string, e.g. outage_mode=timeout
    if args.model:
        kubeconfig = world.config().get("kubeconfig")
        _print(world.use_model(args.model, args.time_factor, os.path.dirname(kubeconfig) if kubeconfig else None))
    _print(world.configure(**patch) if patch else world.config())
    return 0


def cmd_calls(args: argparse.Namespace) -> int:
    from .control import World

    world = World(_endpoint(args))
    _print(world.calls())
    if args.reset:
        world.reset_calls()
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from .control import World

    World(_endpoint(args)).reset()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.world", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the world on 127.0.0.1 until SIGTERM/SIGINT")
    p.add_argument("--port", type=int, default=0, help="0 (default): a random free port")
    p.add_argument("--endpoint-file", help="write http://127.0.0.1:PORT here once ready, the edge's URL to "
                   "PATH.edge (both removed on exit)")
    p.set_defaults(func=cmd_serve)

    def with_endpoint(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--endpoint", help="world URL (default: $AWS_ENDPOINT_URL)")
        return p

    p = with_endpoint(sub.add_parser("seed", help="create the production-shaped world (idempotent)"))
    p.add_argument("--lag-seconds", type=float, default=5.0, help="ReplicaLag of every replica (default 5)")
    p.add_argument("--out", help="write the JSON description here instead of stdout")
    p.add_argument("--outage-writes", action="store_true",
                   help="then also the writes of an eu-west-1 outage; the manifest is the output's \"outage_writes\"")
    p.set_defaults(func=cmd_seed)

    p = with_endpoint(sub.add_parser("lag", help="set or clear one replica's ReplicaLag"))
    p.add_argument("--replica", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--seconds", type=float)
    group.add_argument("--clear", action="store_true", help="no datapoints: lag unknown")
    p.add_argument("--region", default="eu-west-2")
    p.set_defaults(func=cmd_lag)

    p = with_endpoint(sub.add_parser("config", help="show, or merge KEY=JSON settings into, the config"))
    p.add_argument("--set", action="append", metavar="KEY=JSON", help='e.g. promotion_seconds=4 down_regions=["eu-west-1"]')
    p.add_argument("--model", help="a named latency model first (realism.LATENCY_MODELS, e.g. seed)")
    p.add_argument("--time-factor", type=float, default=1 / 60, help="scales the model's waits (default 1/60)")
    p.set_defaults(func=cmd_config)

    p = with_endpoint(sub.add_parser("calls", help="print AWS call counts"))
    p.add_argument("--reset", action="store_true", help="reset the counts after printing")
    p.set_defaults(func=cmd_calls)

    p = with_endpoint(sub.add_parser("reset", help="empty the world and restore the default config"))
    p.set_defaults(func=cmd_reset)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
