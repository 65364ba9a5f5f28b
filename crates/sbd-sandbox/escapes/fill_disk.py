# Escape attempt: fill the disk through every writable place. Prints WROTE_MB <n>.
import os

chunk = b"\0" * (1 << 20)
mb = 0
for d in ("/tmp", "/work", "/"):
    i = 0
    while True:
        try:
            with open(f"{d}/fill-{i}", "wb") as f:
                for _ in range(8):
                    f.write(chunk)
                    mb += 1
            i += 1
        except OSError as e:
            print("stopped in", d, e.strerror)
            break
        if mb > 100000:
            break
print("WROTE_MB", mb)
