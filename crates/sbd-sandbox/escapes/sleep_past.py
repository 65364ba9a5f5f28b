# Escape attempt: outlive the wall-clock limit by sleeping (no CPU used).
import time

time.sleep(120)
print("WOKE UP")
