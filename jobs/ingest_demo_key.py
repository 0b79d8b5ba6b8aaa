"""Demo only: create a random pseudonymization key file outside the repo (mode 0600).

``python jobs/ingest_demo_key.py [PATH]`` (default ``~/.config/telcoseg/hmac.key``) prints
the path; then ``export TELCOSEG_HMAC_KEY_FILE=<path>``. An existing file is kept. Real
deployments provide the key from their secret store instead.
"""

from __future__ import annotations

import sys

from telcoseg.errors import TelcosegError
from telcoseg.ingest.hmac_key import ensure_demo_key_file


def cli(argv: list[str]) -> int:
    try:
        path = ensure_demo_key_file(argv[0] if argv else None)
    except TelcosegError as exc:
        print(f"ingest_demo_key failed: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
