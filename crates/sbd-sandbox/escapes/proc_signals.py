# Escape attempt: see, read and signal other processes through /proc and kill().
# argv[1] = a marker in the command line of a host process; argv[2] = its host pid.
import os, signal, sys

marker, host_pid = sys.argv[1], int(sys.argv[2])
pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
print("VISIBLE", len(pids), sorted(pids))
for pid in pids:
    if pid == os.getpid():
        continue  # our own command line carries the marker as an argument
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if marker.encode() in f.read():
                print("SEEN_HOST", pid)
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            f.read()
    except OSError:
        pass
for pid in (host_pid, 1):
    try:
        os.kill(pid, signal.SIGKILL if pid != 1 else 0)
        print("SIGNALLED", pid)
    except OSError as e:
        print("denied kill", pid, e.strerror)
