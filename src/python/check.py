# codeless Python validation: reads every script of a validate run as one JSON document on stdin
# and writes one JSON document of findings on stdout. Parses with Python's own `ast` (after the
# same `D3.Utility.name<Type>(` translation the worker does), reporting DESIGN.md section 11's list:
# syntax errors, module-level definitions of reserved names, imports outside the standard library
# (requests, pytz and modules of the configured library directory are allowed), calls of unknown
# D3.Utility commands; and the module-level function names, for the YAML-side check.
#
# Input:  {"scripts": [{"path", "source"}], "utilities": [names], "library": dir | null}
# Output: [{"path", "functions": [names], "findings": [{"code", "line", "column", "name", "detail"}]}]
# Lines and columns are 1-based, columns in characters of the original source.

import ast
import json
import re
import sys

RESERVED = ("pb", "runtime", "args", "input")
RESERVED_CLASSES = ("PlaybookRunTime", "APIError", "HTTPAPIError")
ALLOWED_THIRD_PARTY = ("requests", "pytz")

# Python 3.9 has no sys.stdlib_module_names: this is 3.10's, with the modules 3.10 removed
# (formatter, parser, symbol, _bootlocale, _peg_parser).
STDLIB_39 = frozenset("""
__future__ _abc _aix_support _ast _asyncio _bisect _blake2 _bootlocale _bootsubprocess _bz2 _codecs
_codecs_cn _codecs_hk _codecs_iso2022 _codecs_jp _codecs_kr _codecs_tw _collections
_collections_abc _compat_pickle _compression _contextvars _crypt _csv _ctypes _curses _curses_panel
_datetime _dbm _decimal _elementtree _frozen_importlib _frozen_importlib_external _functools _gdbm
_hashlib _heapq _imp _io _json _locale _lsprof _lzma _markupbase _md5 _msi _multibytecodec
_multiprocessing _opcode _operator _osx_support _overlapped _peg_parser _pickle _posixshmem
_posixsubprocess _py_abc _pydecimal _pyio _queue _random _scproxy _sha1 _sha256 _sha3 _sha512
_signal _sitebuiltins _socket _sqlite3 _sre _ssl _stat _statistics _string _strptime _struct
_symtable _thread _threading_local _tkinter _tracemalloc _uuid _warnings _weakref _weakrefset
_winapi _zoneinfo abc aifc antigravity argparse array ast asynchat asyncio asyncore atexit audioop
base64 bdb binascii binhex bisect builtins bz2 cProfile calendar cgi cgitb chunk cmath cmd code
codecs codeop collections colorsys compileall concurrent configparser contextlib contextvars copy
copyreg crypt csv ctypes curses dataclasses datetime dbm decimal difflib dis distutils doctest
email encodings ensurepip enum errno faulthandler fcntl filecmp fileinput fnmatch formatter
fractions ftplib functools gc genericpath getopt getpass gettext glob graphlib grp gzip hashlib
heapq hmac html http idlelib imaplib imghdr imp importlib inspect io ipaddress itertools json
keyword lib2to3 linecache locale logging lzma mailbox mailcap marshal math mimetypes mmap
modulefinder msilib msvcrt multiprocessing netrc nis nntplib nt ntpath nturl2path numbers opcode
operator optparse os ossaudiodev parser pathlib pdb pickle pickletools pipes pkgutil platform
plistlib poplib posix posixpath pprint profile pstats pty pwd py_compile pyclbr pydoc pydoc_data
pyexpat queue quopri random re readline reprlib resource rlcompleter runpy sched secrets select
selectors shelve shlex shutil signal site smtpd smtplib sndhdr socket socketserver spwd sqlite3
sre_compile sre_constants sre_parse ssl stat statistics string stringprep struct subprocess sunau
symbol symtable sys sysconfig syslog tabnanny tarfile telnetlib tempfile termios textwrap this
threading time timeit tkinter token tokenize trace traceback tracemalloc tty turtle turtledemo
types typing unicodedata unittest urllib uu uuid venv warnings wave weakref webbrowser winreg
winsound wsgiref xdrlib xml xmlrpc zipapp zipfile zipimport zlib zoneinfo
""".split())


def stdlib_names():
    return frozenset(getattr(sys, "stdlib_module_names", STDLIB_39))


def library_names(library):
    if not library:
        return frozenset()
    import pkgutil

    return frozenset(m.name for m in pkgutil.iter_modules([library]))


class Script:
    def __init__(self, path, source, translate, original_column):
        self.path = path
        self.source = source
        self.lines = source.splitlines()
        self.findings = []
        self.functions = []
        self.translated, self.shifts = translate(source)
        self.original_column = original_column

    def column(self, line, col_bytes):
        """A 0-based UTF-8 byte offset of the translated source as a 1-based character column."""
        lines = self.translated.splitlines()
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        chars = len(text.encode("utf-8")[:col_bytes].decode("utf-8", "replace"))
        return self.original_column(self.shifts, line, chars) + 1

    def add(self, code, line, column, name, detail=""):
        self.findings.append({"code": code, "line": line, "column": column, "name": name, "detail": detail})

    def at(self, node, code, name, detail=""):
        col = node.col_offset
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            # At the name, not at `def`/`class`.
            lines = self.translated.splitlines()
            text = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
            raw = text.encode("utf-8")
            keyword = re.compile(rb"(?:async\s+def|def|class)\s+").match(raw, col)
            col = keyword.end() if keyword else col
        self.add(code, node.lineno, self.column(node.lineno, col), name, detail)


def syntax_error(script, e):
    line = e.lineno or 1
    # SyntaxError.offset counts characters from 1 (of the translated line).
    col = script.original_column(script.shifts, line, max((e.offset or 1) - 1, 0)) + 1
    script.add("python-syntax", line, col, "", "%s: %s" % (type(e).__name__, e.msg))


# --- module-level definitions ------------------------------------------------------------------


def bound_names(target):
    """Names a target binds (assignment, for, with, del)."""
    if isinstance(target, ast.Name):
        yield target
    elif isinstance(target, (ast.Tuple, ast.List)):
        for t in target.elts:
            yield from bound_names(t)
    elif isinstance(target, ast.Starred):
        yield from bound_names(target.value)


def module_bindings(body):
    """(node for its position, name) of every binding in module scope: statements of the module
    and of its compound statements, not of functions or classes (their own scopes)."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield stmt, stmt.name
        elif isinstance(stmt, (ast.Assign,)):
            for t in stmt.targets:
                for n in bound_names(t):
                    yield n, n.id
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
            for n in bound_names(stmt.target):
                yield n, n.id
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            for n in bound_names(stmt.target):
                yield n, n.id
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    for n in bound_names(item.optional_vars):
                        yield n, n.id
        elif isinstance(stmt, ast.Delete):
            for t in stmt.targets:
                for n in bound_names(t):
                    yield n, n.id
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name != "*":
                    yield stmt, alias.asname or alias.name.split(".")[0]
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            for h in stmt.handlers:
                if h.name:
                    yield h, h.name
        if type(stmt).__name__ == "Match":
            for case in stmt.cases:
                for p in ast.walk(case.pattern):
                    name = getattr(p, "name", None) if type(p).__name__ in ("MatchAs", "MatchStar") else getattr(p, "rest", None)
                    if name:
                        yield p, name
                yield from module_bindings(case.body)
        for field in ("body", "orelse", "finalbody"):
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from module_bindings(getattr(stmt, field, None) or [])
        for h in getattr(stmt, "handlers", None) or []:
            yield from module_bindings(h.body)
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from walrus_targets(stmt)


def walrus_targets(stmt):
    """`(name := ...)` in a module-level statement's expressions binds in module scope (even
    inside a comprehension), but not inside a lambda."""
    stack = [c for c in ast.iter_child_nodes(stmt) if isinstance(c, ast.expr)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            yield node.target, node.target.id
        stack.extend(ast.iter_child_nodes(node))


def global_declarations(tree):
    """`global pb` in a function: its assignments rebind the module's name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            for name in node.names:
                yield node, name


def module_functions(body):
    out = []
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append(stmt.name)
        elif not isinstance(stmt, ast.ClassDef):
            for field in ("body", "orelse", "finalbody"):
                out.extend(module_functions(getattr(stmt, field, None) or []))
            for h in getattr(stmt, "handlers", None) or []:
                out.extend(module_functions(h.body))
            for case in getattr(stmt, "cases", None) or []:
                out.extend(module_functions(case.body))
    return out


def check_reserved(script, tree):
    seen = set()
    found = list(module_bindings(tree.body)) + [(n, name) for n, name in global_declarations(tree)]
    for node, name in found:
        if name in RESERVED or name in RESERVED_CLASSES:
            key = (node.lineno, node.col_offset, name)
            if key not in seen:
                seen.add(key)
                kind = "class" if name in RESERVED_CLASSES else "name"
                script.at(node, "python-reserved-name", name, kind)


# --- imports ----------------------------------------------------------------------------------


def check_imports(script, tree, allowed):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top not in allowed:
                    script.at(node, "python-import", alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                script.at(node, "python-import", "." * node.level + (node.module or ""), "relative")
            elif node.module and node.module.split(".")[0] not in allowed:
                script.at(node, "python-import", node.module)


# --- D3.Utility calls --------------------------------------------------------------------------


def check_utilities(script, tree, known):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                and node.value.attr == "Utility" and isinstance(node.value.value, ast.Name)
                and node.value.value.id == "D3"):
            if node.attr in known:
                continue
            line = getattr(node, "end_lineno", None) or node.lineno
            end = getattr(node, "end_col_offset", None)
            if end is not None:
                col_bytes = end - len(node.attr.encode("utf-8"))
            else:
                col_bytes = node.col_offset
            script.add("python-unknown-utility", line, script.column(line, col_bytes), node.attr)


def check(path, source, known, allowed, translate, original_column):
    script = Script(path, source, translate, original_column)
    try:
        tree = ast.parse(script.translated, filename=path)
    except SyntaxError as e:
        syntax_error(script, e)
        return script
    except (ValueError, RecursionError, MemoryError) as e:
        script.add("python-syntax", 1, 1, "", "%s: %s" % (type(e).__name__, e))
        return script
    try:
        # Some errors are found only by the compiler (`return` outside a function, ...).
        compile(tree, path, "exec", dont_inherit=True)
    except SyntaxError as e:
        syntax_error(script, e)
        return script
    except (ValueError, RecursionError, MemoryError) as e:
        script.add("python-syntax", 1, 1, "", "%s: %s" % (type(e).__name__, e))
        return script
    check_reserved(script, tree)
    check_imports(script, tree, allowed)
    check_utilities(script, tree, known)
    script.functions = module_functions(tree.body)
    return script


def main(translate, original_column):
    request = json.loads(sys.stdin.buffer.read().decode("utf-8", "replace"))
    known = frozenset(request.get("utilities") or [])
    allowed = stdlib_names() | frozenset(ALLOWED_THIRD_PARTY) | library_names(request.get("library"))
    out = []
    for s in request.get("scripts") or []:
        try:
            script = check(s["path"], s["source"], known, allowed, translate, original_column)
        except RecursionError:
            script = Script(s["path"], "", translate, original_column)
            script.add("python-syntax", 1, 1, "", "RecursionError: the script nests too deeply to be checked")
        script.findings.sort(key=lambda f: (f["line"], f["column"]))
        out.append({"path": s["path"], "functions": script.functions, "findings": script.findings})
    sys.stdout.write(json.dumps(out))
