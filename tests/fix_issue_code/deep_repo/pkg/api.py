"""The registry's public functions."""
from pkg.a.b.c.deep import normalize


def register(registry, name):
    """Store `name` under its normalized key and return the key."""
    key = normalize(name)
    registry[key] = name
    return key
