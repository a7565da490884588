"""A loopback SMTP server in its own process that only counts what it accepts (benchmarks); optionally it takes a
fixed time per message before it answers (a real server writes the message to its queue first), during which it
serves its other connections."""

from __future__ import annotations

import asyncio
import sys
import time

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.count = 0
        self.ids: set[str] = set()
        self.duplicates = 0

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.count += 1
        for line in envelope.content.split(b"\r\n", 40):
            if line[:11].lower() == b"message-id:":
                message_id = line[11:].strip().decode()
                if message_id in self.ids:
                    self.duplicates += 1
                self.ids.add(message_id)
                break
        return "250 OK"


def main() -> None:
    port = int(sys.argv[1])
    counter = Counter(float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0)
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "count":
                print(f"{counter.count} {counter.duplicates}", flush=True)
            elif line.strip() == "reset":
                counter.count, counter.duplicates, counter.ids = 0, 0, set()
                print("ok", flush=True)
    finally:
        controller.stop()
        time.sleep(0.1)


if __name__ == "__main__":
    main()
