from pkg.api import register


def test_register_normalizes():
    reg = {}
    assert register(reg, "  Bob ") == "bob"
    assert reg == {"bob": "  Bob "}
