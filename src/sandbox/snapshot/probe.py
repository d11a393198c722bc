# The probe that checks a snapshot before it is used: run once from a fresh start and once
# from the snapshot, it must report the same interpreter state and the same test results.
import atexit, codecs, json, locale, os, sys, warnings


def test_probe():
    main = sys.modules["__main__"]
    streams = {
        n: [s.encoding, s.errors, s.line_buffering, type(s).__name__]
        for n, s in (("stdin", sys.__stdin__), ("stdout", sys.__stdout__), ("stderr", sys.__stderr__))
    }
    info = {
        "argv": sys.argv,
        "orig_argv": sys.orig_argv,
        "path": sys.path,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "root": sorted(os.listdir("/")),
        "flags": list(sys.flags),
        "warnoptions": sys.warnoptions,
        "xoptions": sys._xoptions,
        "filters": [repr(f) for f in warnings.filters],
        "dont_write_bytecode": sys.dont_write_bytecode,
        "prefix": [sys.prefix, sys.exec_prefix, sys.executable],
        "main": sorted(vars(main)),
        "main_name": main.__name__,
        "meta_path": [type(f).__name__ for f in sys.meta_path],
        "path_hooks": [repr(h)[:40] for h in sys.path_hooks],
        "streams": streams,
        # The codecs; the resumed interpreter spells the file-system encoding as the locale does
        # ("UTF-8"), a fresh one as the codec's name ("utf-8"), see snapshot/mod.rs.
        "encodings": [
            codecs.lookup(sys.getfilesystemencoding()).name,
            sys.getfilesystemencodeerrors(),
            locale.getpreferredencoding(False),
        ],
        "recursion": sys.getrecursionlimit(),
        "atexit": atexit._ncallbacks(),
        "modules": sorted(sys.modules),
    }
    sys.__stdout__.write("codeswarm-probe " + json.dumps(info, sort_keys=True) + "\n")
    sys.__stdout__.flush()


def test_fails():
    assert [1, 2] == [1, 3]


def test_raises():
    import pytest

    with pytest.raises(ZeroDivisionError):
        1 / 0
