"""The Alipay gateway and TOP router emulators in a process of their own.

Crash tests and benchmarks need clouds that outlive the booth process they test (a real cloud is remote and
keeps what it accepted when the booth dies). This runs both emulators on one loop on 127.0.0.1 and prints
one JSON line with their URLs; each serves what it accepted at ``/_emulator/stats``. It stops on SIGTERM,
SIGINT or when its standard input closes (so it never outlives the test that started it).

python -m booth.sandbox.serve --alipay-app-public-key FILE --alipay-private-key FILE \
    [--alipay-app-id ID] [--top-app-key KEY --top-secret SECRET] [--latency-ms N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
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
    """A daemon thread: stdin at EOF (the parent went away) stops the server."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdin.buffer.read()
    with contextlib.suppress(RuntimeError):  # the loop is already closed
        loop.call_soon_threadsafe(stop.set)


async def serve(args: argparse.Namespace, app_public_pem: str, alipay_private_pem: str) -> None:
    latency = args.latency_ms / 1000
    alipay = AlipayGatewayEmulator(
        app_public_pem,
        alipay_private_pem,
        app_id=args.alipay_app_id,
        latency_s=latency,
    )
    top = (
        TopRouterEmulator(args.top_app_key, args.top_secret, latency_s=latency) if args.top_app_key else None
    )
    await alipay.start()
    if top is not None:
        await top.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    base = alipay.gateway_url.rsplit("/", 1)[0]
    ready = {"alipay": alipay.gateway_url, "alipay_stats": base + ALIPAY_STATS}
    if top is not None:
        top_base = top.gateway_url.rsplit("/", 2)[0]
        ready |= {"tmall": top.gateway_url, "tmall_stats": top_base + TOP_STATS}
    print(json.dumps(ready), flush=True)
    threading.Thread(target=_watch_stdin, args=(loop, stop), daemon=True).start()
    try:
        await stop.wait()
    finally:
        await alipay.stop()
        if top is not None:
            await top.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="booth.sandbox.serve", description=__doc__.split("\n")[0])
    parser.add_argument("--alipay-app-public-key", required=True, metavar="FILE")
    parser.add_argument("--alipay-private-key", required=True, metavar="FILE")
    parser.add_argument("--alipay-app-id", default=None)
    parser.add_argument("--top-app-key", default="")
    parser.add_argument("--top-secret", default="")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay of every answer")
    args = parser.parse_args(argv)
    if args.top_app_key and not args.top_secret:
        parser.error("--top-secret is required with --top-app-key")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app_public = Path(args.alipay_app_public_key).read_text(encoding="ascii")
    alipay_private = Path(args.alipay_private_key).read_text(encoding="ascii")
    asyncio.run(serve(args, app_public, alipay_private))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
