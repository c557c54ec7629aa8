#!/usr/bin/python3
"""A TCP proxy that adds network latency, for tests and benchmarks: every chunk is forwarded
DELAY seconds (plus or minus up to JITTER) after it arrived, in each direction, so the round
trip grows by about twice DELAY. Order is kept: a chunk never overtakes the one before it.

Loopback only: it listens on 127.0.0.1 or ::1 and forwards to a loopback target. It prints
`listening PORT` on stdout once it accepts connections, and exits by itself after --lifetime
seconds.

    latency_proxy.py --target 127.0.0.1:4000 --delay 0.25 --jitter 0.025 [--port 0]
"""

import argparse
import asyncio
import ipaddress
import random
import sys


def loopback_address(text):
    address = ipaddress.ip_address(text)
    if not address.is_loopback:
        raise argparse.ArgumentTypeError(f"{text} is not a loopback address")
    return text


def target_address(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    loopback_address(host)
    return host, int(port)


async def forward(reader, writer, delay, jitter, rng):
    """Copies reader to writer, each chunk held back until its due time."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # the latency being simulated, not a synchronisation
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(send())
    last_due = 0.0
    try:
        while True:
            data = await reader.read(65536)
            due = max(last_due, loop.time() + max(0.0, delay + rng.uniform(-jitter, jitter)))
            last_due = due
            queue.put_nowait((due, data))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()
        writer.close()


async def serve(args):
    rng = random.Random(args.seed)

    async def on_client(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(*args.target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            forward(client_reader, server_writer, args.delay, args.jitter, rng),
            forward(server_reader, client_writer, args.delay, args.jitter, rng),
            return_exceptions=True)

    server = await asyncio.start_server(on_client, args.bind, args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    async with server:
        await asyncio.sleep(args.lifetime)  # ends the proxy by itself


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=target_address, required=True,
                        help="loopback HOST:PORT to forward to")
    parser.add_argument("--bind", type=loopback_address, default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="listen port (0: any free one)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added per direction")
    parser.add_argument("--jitter", type=float, default=0.0, help="seconds of random variation")
    parser.add_argument("--seed", type=int, default=2217)
    parser.add_argument("--lifetime", type=float, default=600.0,
                        help="seconds after which the proxy exits")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
