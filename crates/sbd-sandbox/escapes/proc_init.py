# Escape attempt: read the sandbox supervisor (PID 1, a copy of sbd's memory) through
# /proc: its environment, memory map, memory and open descriptors.
for f in ("/proc/1/environ", "/proc/1/maps", "/proc/1/mem", "/proc/1/fd/3", "/proc/1/fd/4"):
    try:
        with open(f, "rb") as h:
            print("READ", f, len(h.read(100)))
    except OSError as e:
        print("denied", f, e.strerror)
