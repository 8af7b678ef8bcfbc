"""Install the emulator (once) and start it. Standard library only.

    python3 tests/emulator/start.py [RUN_DIR]

Creates .emulator/venv with the pinned requirements next to this file, under a
file lock so that several test binaries starting at once install it once, then
replaces itself with `emulator.py` running in that venv. What emulator.py
prints (one JSON line) and its lifetime (until stdin closes) are unchanged.
"""

import fcntl
import hashlib
import os
import subprocess
import sys
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STATE = os.path.join(ROOT, ".emulator")
VENV = os.path.join(STATE, "venv")
PYTHON = os.path.join(VENV, "bin", "python")


def ensure_installed():
    with open(os.path.join(HERE, "requirements.txt"), "rb") as f:
        wanted = hashlib.sha256(f.read()).hexdigest()
    marker = os.path.join(VENV, ".cdnctl-requirements")
    os.makedirs(STATE, exist_ok=True)
    with open(os.path.join(STATE, "install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(marker) as f:
                if f.read() == wanted:
                    return
        except FileNotFoundError:
            pass
        print("cdnctl: installing the AWS emulator (moto) into .emulator/venv ...", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        subprocess.run(
            [PYTHON, "-m", "pip", "install", "--quiet", "-r", os.path.join(HERE, "requirements.txt")],
            check=True,
            stdout=sys.stderr,
        )
        with open(marker, "w") as f:
            f.write(wanted)


def main():
    ensure_installed()
    run_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(STATE, f"run-{os.getpid()}")
    os.execv(PYTHON, [PYTHON, os.path.join(HERE, "emulator.py"), run_dir])


if __name__ == "__main__":
    main()
