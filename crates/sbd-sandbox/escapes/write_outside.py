# Escape attempt: write files outside the sandbox's writable places.
# argv[1] = absolute host path next to the secret (in a world-writable host directory).
import os, sys

targets = [sys.argv[1], "/etc/sbd-escape", "/usr/sbd-escape", "/work/sbd-escape",
           "/proc/1/root" + sys.argv[1], "/sbd-escape"]
for t in targets:
    try:
        with open(t, "w") as f:
            f.write("escaped\n")
        print("WROTE", t)
    except OSError as e:
        print("denied", t, e.strerror)
