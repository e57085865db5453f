#!/usr/bin/python3
"""A slow TCP proxy for tests: a stand-in for a MASA that takes long to answer.

usage: slow-proxy.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT DELAY LOG

Every accepted connection is logged (one line "conn N" in LOG) and
connected to UPSTREAM; bytes flow both ways unchanged, but each piece the
client sends is held DELAY seconds before it goes on, so every request (and
the TLS handshake) reaches the server late, on a new connection as on one
kept alive. TLS stays end to end between the client and the upstream
server: the client sees a server that answers late, not a different server.
Prints "ready" once listening on 127.0.0.1.
"""
import asyncio
import sys

listen_port, up_host, up_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
delay, log = float(sys.argv[4]), sys.argv[5]
count = 0


async def pipe(reader, writer, hold=0.0):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if hold:
                await asyncio.sleep(hold)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def handle(c_reader, c_writer):
    global count
    count += 1
    with open(log, "a") as f:
        f.write("conn %d\n" % count)
    try:
        u_reader, u_writer = await asyncio.open_connection(up_host, up_port)
    except OSError:
        c_writer.close()
        return
    await asyncio.gather(pipe(c_reader, u_writer, delay), pipe(u_reader, c_writer))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
