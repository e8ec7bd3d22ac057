"""A real SMTP server for the email tests (aiosmtpd), on 127.0.0.1 and a free port.

usage: smtp_server.py MAILDIR [REFUSED_ADDRESS ...]
Prints "ready PORT" once it accepts connections. Every message it accepts is written as
MAILDIR/NNNN.eml (the bytes as received) with NNNN.json beside it holding the envelope
({"from": ..., "to": [...]}). RCPT TO for a refused address is answered 550. Runs until
killed or until its standard input closes (so it never outlives the test).
"""

import json
import os
import socket
import sys

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, maildir, refused):
        self.maildir = maildir
        self.refused = {a.lower() for a in refused}
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.maildir, "%04d" % self.count)
        with open(base + ".json.tmp", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos}, f)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        # The envelope first: a test that sees the .eml can read both.
        os.rename(base + ".json.tmp", base + ".json")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 accepted"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    maildir, refused = sys.argv[1], sys.argv[2:]
    os.makedirs(maildir, exist_ok=True)
    port = free_port()
    controller = Controller(Handler(maildir, refused), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready %d" % port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
