"""One task process of the token benchmark: import the hook, wait for the common start, send M messages."""

from __future__ import annotations

import os
import sys
import time


def main(go_file: str, sends: int) -> int:
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    hook = FxiaokeHook("fxiaoke_bench")
    open(f"{go_file}.ready.{os.getpid()}", "w").close()
    while not os.path.exists(go_file):  # every process starts sending at the same moment
        time.sleep(0.005)
    for i in range(sends):
        hook.send_message(["1000"], f"token benchmark message {i}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
