"""The machine-wide state directory and its file locks, shared by the token cache and the pacer.

Every process on a machine that uses the same credentials meets in one private directory (0700:
it holds the token) and serialises on exclusive ``flock``s of files in it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator


def private_dir(directory: str) -> None:
    """Create ``directory`` as 0700, and tighten it when it already existed with looser permissions."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if os.stat(directory).st_uid == os.getuid():
        os.chmod(directory, 0o700)


def acquire(path: str) -> int:
    """Open ``path`` (0600, created if missing) in its private directory and lock it exclusively;
    closing the returned descriptor releases the lock."""
    private_dir(os.path.dirname(path) or ".")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def locked(path: str) -> Iterator[int]:
    """``acquire`` as a context: the locked descriptor, released on exit."""
    fd = acquire(path)
    try:
        yield fd
    finally:
        os.close(fd)  # closing releases the lock
