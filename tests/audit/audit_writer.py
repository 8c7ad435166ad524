"""A writer process for the crash and concurrency tests: append in a loop, acknowledge each.

    python audit_writer.py LOCATION KEY_FILE ACK_FILE COUNT TAG

After each append has *returned*, the line "<seq> <request_id>" is written to ACK_FILE
(one write per line, O_APPEND), so the parent knows exactly what was acknowledged even if
this process is killed. COUNT 0 means loop until killed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audit_samples import sample_entry

from phaseroute.audit import AuditTrail, load_signing_key


def main() -> None:
    location, key_file, ack_file, count, tag = sys.argv[1:6]
    key = load_signing_key(f"file:{key_file}")
    trail = AuditTrail.open(location, signing_key=key, checkpoint_every=25)
    fd = os.open(ack_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    i = 0
    while int(count) == 0 or i < int(count):
        request_id = f"{tag}-{i}"
        receipt = trail.append(sample_entry(i, request_id=request_id))
        os.write(fd, f"{receipt.sequence} {request_id}\n".encode())
        i += 1
    os.close(fd)
    trail.close()


if __name__ == "__main__":
    main()
