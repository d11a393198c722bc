# Start busy threads (the runtime has none); then spin in the main thread.
import threading


def spin():
    while True:
        pass


try:
    for _ in range(8):
        threading.Thread(target=spin, daemon=True).start()
    print("threads started", flush=True)
except RuntimeError as e:
    print(f"blocked threads: {e}", flush=True)
spin()
