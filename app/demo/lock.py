"""One demo per data folder: a second `demo` started in the same folder would recreate the
first one's database under it.

The lock is an `flock` on `.demo/demo.lock`, held by the open file for the life of the
process: the kernel drops it when the process dies, however it dies, so a lock left by a dead
demo is simply taken over. The file also names the holder's pid for the refusal message.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.demo.errors import DemoError

LOCK_FILE = "demo.lock"


@contextmanager
def demo_lock(data_dir: Path) -> Iterator[None]:
    """Hold the folder's lock until the block ends, or raise `DemoError` naming the holder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DemoError(
                f"another demo is running here (pid {_holder(fd)}); stop it first, "
                "or start this one from another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        # Closing releases the lock; the file stays (removing it would race a new holder).
        os.close(fd)


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 32).decode(errors="replace").strip()
    return text if text.isdigit() else "unknown"
