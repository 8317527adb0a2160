"""``callcenter user hash-password``: print a password hash to paste into the config's
``users[].password_hash``, so that production configs hold no plain passwords.

The password is never taken from the command line (it would land in shell history and in
``ps``): it is prompted for twice on a terminal, or read as the first line of stdin.
"""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from callcenter.auth.passwords import hash_password


def hash_password_command(
    stdin: TextIO | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Read a password, print its hash; exit status 0, or 1 when none (or no match) given."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("hash-password: the two passwords differ; nothing printed", file=stderr)
            return 1
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        print("hash-password: empty password; nothing printed", file=stderr)
        return 1
    print(hash_password(password), file=stdout)
    return 0
