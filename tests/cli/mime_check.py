"""Parses a message file with Python's email package, independently of the Rust code that
wrote it, and prints what the tests check as JSON: headers, defects, the text body and
each attachment (content type, decoded file name), saved as EML.att<N> for a byte compare.

usage: mime_check.py FILE.eml
"""

import email
import email.policy
import json
import sys


def main():
    path = sys.argv[1]
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    defects = [repr(d) for part in msg.walk() for d in part.defects]
    body = msg.get_body(preferencelist=("plain",))
    attachments = []
    for n, part in enumerate(msg.iter_attachments()):
        saved = "%s.att%d" % (path, n)
        with open(saved, "wb") as f:
            f.write(part.get_payload(decode=True))
        attachments.append(
            {"content_type": part.get_content_type(), "filename": part.get_filename(), "saved": saved}
        )
    print(
        json.dumps(
            {
                "subject": str(msg["Subject"]),
                "from": str(msg["From"]),
                "to": str(msg["To"]),
                "x_unsent": msg["X-Unsent"],
                "mime_version": msg["MIME-Version"],
                "content_type": msg.get_content_type(),
                "defects": defects,
                "body": body.get_content() if body is not None else None,
                "attachments": attachments,
            }
        )
    )


if __name__ == "__main__":
    main()
