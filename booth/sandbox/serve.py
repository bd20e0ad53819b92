"""The cloud emulators (Bolink, the Alipay gateway, the TOP router) in a process of their own.

Crash tests and benchmarks need clouds that outlive the booth process they test (a real cloud is remote and
keeps what it accepted when the booth dies), and `booth --demo` runs its Bolink here so that the booth's
process holds only the booth. This runs the emulators asked for on one loop on 127.0.0.1 and prints one
JSON line with their URLs; Alipay and TOP serve what they accepted at ``/_emulator/stats``. It stops on
SIGTERM, SIGINT or when its standard input closes (so it never outlives the process that started it).

python -m booth.sandbox.serve [--alipay-app-public-key FILE --alipay-private-key FILE [--alipay-app-id ID]
    [--alipay-port N]] [--top-app-key KEY --top-secret SECRET [--top-port N]] [--latency-ms N]
    [--bolink-union-id U --bolink-park-id P --bolink-ukey K [--bolink-port N] [--bolink-autopay-s S]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from booth.sandbox.alipay_gateway import STATS_PATH as ALIPAY_STATS
from booth.sandbox.alipay_gateway import AlipayGatewayEmulator
from booth.sandbox.top_router import STATS_PATH as TOP_STATS
from booth.sandbox.top_router import TopRouterEmulator


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """A daemon thread: stdin at EOF (the parent went away) stops the server. It reads the descriptor itself:
    a thread blocked in ``sys.stdin.buffer.read()`` holds the buffer's lock, and a Ctrl-C in the terminal
    (SIGINT to the parent and this child alike) then ended the interpreter with a fatal error at shutdown."""
    with contextlib.suppress(OSError, ValueError):
        while os.read(sys.stdin.fileno(), 65536):
            pass
    with contextlib.suppress(RuntimeError):  # the loop is already closed
        loop.call_soon_threadsafe(stop.set)


async def serve(args: argparse.Namespace, app_public_pem: str | None, alipay_private_pem: str | None) -> None:
    latency = args.latency_ms / 1000
    alipay = (
        AlipayGatewayEmulator(
            app_public_pem,
            alipay_private_pem,
            app_id=args.alipay_app_id,
            latency_s=latency,
            port=args.alipay_port,
        )
        if app_public_pem is not None and alipay_private_pem is not None
        else None
    )
    top = (
        TopRouterEmulator(args.top_app_key, args.top_secret, latency_s=latency, port=args.top_port)
        if args.top_app_key
        else None
    )
    bolink = None
    if args.bolink_union_id:
        from booth.sandbox.bolink_cloud import BolinkSandbox

        bolink = BolinkSandbox(
            union_id=args.bolink_union_id,
            park_id=args.bolink_park_id,
            ukey=args.bolink_ukey,
            port=args.bolink_port,
            autopay_after_s=args.bolink_autopay_s,
        )
    ready: dict[str, str] = {}
    try:
        if bolink is not None:
            await bolink.start()
            ready["bolink"] = bolink.base_url
        if alipay is not None:
            await alipay.start()
            base = alipay.gateway_url.rsplit("/", 1)[0]
            ready |= {"alipay": alipay.gateway_url, "alipay_stats": base + ALIPAY_STATS}
        if top is not None:
            await top.start()
            top_base = top.gateway_url.rsplit("/", 2)[0]
            ready |= {"tmall": top.gateway_url, "tmall_stats": top_base + TOP_STATS}
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(json.dumps(ready), flush=True)
        threading.Thread(target=_watch_stdin, args=(loop, stop), daemon=True).start()
        await stop.wait()
    finally:
        for emulator in (top, alipay, bolink):
            if emulator is not None:
                await emulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="booth.sandbox.serve", description=__doc__.split("\n")[0])
    parser.add_argument("--alipay-app-public-key", metavar="FILE")
    parser.add_argument("--alipay-private-key", metavar="FILE")
    parser.add_argument("--alipay-app-id", default=None)
    parser.add_argument("--alipay-port", type=int, default=0, help="its port on 127.0.0.1 (0 = any free)")
    parser.add_argument("--top-app-key", default="")
    parser.add_argument("--top-secret", default="")
    parser.add_argument("--top-port", type=int, default=0, help="its port on 127.0.0.1 (0 = any free)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay of every answer (Alipay, TOP)")
    parser.add_argument("--bolink-union-id", default="", help="run the Bolink sandbox for this union id")
    parser.add_argument("--bolink-park-id", default="")
    parser.add_argument("--bolink-ukey", default="")
    parser.add_argument("--bolink-port", type=int, default=0, help="its port on 127.0.0.1 (0 = any free)")
    parser.add_argument("--bolink-autopay-s", type=float, default=None, help="drivers pay after S s")
    args = parser.parse_args(argv)
    if args.top_app_key and not args.top_secret:
        parser.error("--top-secret is required with --top-app-key")
    if bool(args.alipay_app_public_key) != bool(args.alipay_private_key):
        parser.error("--alipay-app-public-key and --alipay-private-key go together")
    if args.bolink_union_id and not (args.bolink_park_id and args.bolink_ukey):
        parser.error("--bolink-park-id and --bolink-ukey are required with --bolink-union-id")
    if not (args.alipay_app_public_key or args.top_app_key or args.bolink_union_id):
        parser.error("nothing to serve: give the Alipay keys, a TOP app key or a Bolink union id")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app_public = alipay_private = None
    if args.alipay_app_public_key:
        app_public = Path(args.alipay_app_public_key).read_text(encoding="ascii")
        alipay_private = Path(args.alipay_private_key).read_text(encoding="ascii")
    asyncio.run(serve(args, app_public, alipay_private))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
