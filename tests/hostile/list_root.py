# Walk everything the guest can see and report host-looking entries.
import os
from _common import attempt, done

print("root:", sorted(os.listdir("/")))
seen = 0
suspicious = []
for top in ["/", "/tmp", "/dev", "/usr"]:
    for dirpath, dirnames, filenames in os.walk(top):
        seen += len(filenames)
        for f in filenames:
            p = os.path.join(dirpath, f)
            if f in ("passwd", "shadow", "hostname", ".bashrc", "secret.txt"):
                suspicious.append(p)
print("files seen:", seen)
if suspicious:
    print("ESCAPED walk:", suspicious)
else:
    print("blocked walk: no host files")
print("dev:", sorted(os.listdir("/dev")))
done()
