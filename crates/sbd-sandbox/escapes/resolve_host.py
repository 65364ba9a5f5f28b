# Escape attempt: resolve a host name (DNS over the network) and send a UDP datagram.
import socket

for name in ("example.com", "dns.google"):
    try:
        print("RESOLVED", name, socket.getaddrinfo(name, 443)[0][4])
    except OSError as e:
        print("denied", name, e)
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x", ("8.8.8.8", 53))
    print("RESOLVED udp datagram sent")
except OSError as e:
    print("denied udp", e)
