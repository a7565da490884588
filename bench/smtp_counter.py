"""A loopback SMTP server in its own process that only counts what it accepts (benchmarks)."""

from __future__ import annotations

import sys
import time

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.ids: set[str] = set()
        self.duplicates = 0

    async def handle_DATA(self, server, session, envelope):
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
    counter = Counter()
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
