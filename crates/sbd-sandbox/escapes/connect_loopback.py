# Escape attempt: reach a TCP listener on the host's loopback (Python). argv[1] = port.
import socket, sys

port = int(sys.argv[1])
for family, addr in ((socket.AF_INET, ("127.0.0.1", port)), (socket.AF_INET6, ("::1", port))):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(addr)
        s.sendall(b"escaped\n")
        print("CONNECTED", addr)
    except OSError as e:
        print("denied", addr, e)
