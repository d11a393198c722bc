# Block in a host call (a very long sleep) instead of running wasm code.
import time

print("sleeping", flush=True)
time.sleep(10**6)
print("ESCAPED woke up")
