"""Name normalization."""


def normalize(name):
    """Lower-case a name and strip surrounding blanks; None stays None."""
    return name.strip().lower()


def initials(name):
    """The first letter of every word, upper-cased."""
    return "".join(w[0].upper() for w in name.split())
