# Shared helpers for the hostile programs (copied into the work dir next to each program).
# A program calls attempt(name, fn): `fn` performing the attack must raise; if it returns, the
# attack worked and the line says ESCAPED.
import sys


def attempt(name, fn):
    try:
        result = fn()
    except BaseException as e:  # noqa: BLE001 - any failure means the attack was stopped
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        print(f"blocked {name}: {type(e).__name__}")
        return
    print(f"ESCAPED {name}: {result!r}"[:500])


def done():
    print("done")
    sys.stdout.flush()
