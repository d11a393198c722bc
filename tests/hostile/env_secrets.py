# Look for secrets in the environment.
import os
from _common import done

for k, v in sorted(os.environ.items()):
    print(f"env {k}={v}")
if "CODESWARM_FAKE_SECRET" in os.environ or any("hunter2" in v for v in os.environ.values()):
    print("ESCAPED env secret")
else:
    print("blocked env secret")
done()
