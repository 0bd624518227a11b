# codeless Python worker: runs D3-style custom commands for the codeless host.
#
# The host starts this file with `python3 -I -S -c <this file + "_main()"> <config JSON>` (the
# validator runs it with check.py instead, for `translate`) and speaks JSON lines
# with it: one object per line on the worker's original stdin/stdout, which the worker moves to
# private descriptors at start (fds 0 and 1 then point at /dev/null, so nothing the script does
# with them reaches the protocol). Messages (host -> worker):
#   {"op": "call", "hash", "path", "source" | null, "function", "args", "types", "names",
#    "connector", "retrycount", "integration" | null}
#   {"op": "source", "source"}                      after the worker asked for it
#   {"op": "reply", "id", "value" | "error"}        the answer to a call-back
# and (worker -> host):
#   {"op": "ready", "version", "pid"}
#   {"op": "need_source"}                           the script's hash is not cached here
#   {"op": "log", "text"}                           pb.log, print, sys.stderr, as they happen
#   {"op": "utility", "id", "name", "type", "args", "named"}
#   {"op": "integration", "id", "integration", "command", "args", "named"}
#   {"op": "request", "id", "method", "path", "params", "json", "data", "headers"}
#   {"op": "done", "kind": "model" | "output" | "value" | "failure", ..., "retire": bool}
# One call at a time; the script runs in a fresh module namespace per call, after the prelude
# D3's system script provides (DESIGN.md section 11). Compiled scripts are cached by hash.

import builtins
import io
import json as _json
import linecache
import os
import re
import sys
import time
import tokenize
from datetime import date, datetime, timedelta, timezone

_CONFIG = _json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}


# --- the protocol channel -------------------------------------------------------------------


class _Channel:
    def __init__(self):
        self.out = os.fdopen(os.dup(1), "wb")
        self.inp = os.fdopen(os.dup(0), "rb")
        self.inp_fd = self.inp.fileno()
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        self.next_id = 0

    def send(self, msg):
        data = _dumps(msg).encode("utf-8", "replace") + b"\n"
        self.out.write(data)
        self.out.flush()

    def receive(self):
        line = self.inp.readline()
        if not line:
            # The host closed the pipe: it is gone or retiring this worker.
            os._exit(0)
        return _json.loads(line)

    def ask(self, msg):
        """Sends a call-back and waits for its reply (the host answers nothing else meanwhile)."""
        self.next_id += 1
        msg["id"] = self.next_id
        self.send(msg)
        reply = self.receive()
        if reply.get("op") != "reply" or reply.get("id") != self.next_id:
            raise _ProtocolError("unexpected message from codeless: %r" % (reply.get("op"),))
        return reply


class _ProtocolError(Exception):
    pass


# --- values to and from JSON ----------------------------------------------------------------


def _d3_time(d):
    """D3's date/time format, in UTC for aware values."""
    if d.tzinfo is not None and d.utcoffset() is not None:
        d = d.astimezone(timezone.utc)
    return "%04d-%02d-%02d %02d:%02d:%02d" % (d.year, d.month, d.day, d.hour, d.minute, d.second)


def _default(v):
    if isinstance(v, datetime):
        return _d3_time(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (set, frozenset)):
        return list(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, BaseException):
        return str(v)
    try:
        import decimal

        if isinstance(v, decimal.Decimal):
            return float(v)
    except ImportError:
        pass
    return str(v)


def _sanitize(v, depth=0):
    """What `json` refuses (NaN, non-text keys), made acceptable; only used after a refusal."""
    if depth > 200:
        raise ValueError("the value nests more than 200 levels or refers to itself")
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else None
    if isinstance(v, dict):
        return {_key(k): _sanitize(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_sanitize(x, depth + 1) for x in v]
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    return _sanitize(_default(v), depth + 1)


def _key(k):
    if isinstance(k, str):
        return k
    if k is None or isinstance(k, (int, float, bool)):
        return _json.dumps(k)
    return str(_default(k))


def _dumps(v):
    try:
        return _json.dumps(v, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default)
    except (ValueError, TypeError):
        return _json.dumps(_sanitize(v), ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default)


def _number(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _argument(ty, v):
    """An input as the function receives it: datetimes as naive UTC datetimes, whole numbers as int."""
    if ty == "datetime":
        if v is None or v == "":
            # D3 passes an empty date/time as 1900-01-01 (the seed's samples test `year == 1900`).
            return datetime(1900, 1, 1)
        return datetime.fromisoformat(v)
    if ty == "number":
        return _number(v)
    if ty == "number_array" and isinstance(v, list):
        return [_number(x) for x in v]
    return v


def _convert_first(ty, v):
    """`D3.Utility.name<Type>(...)`: the first argument converted to the command's first type."""
    t = re.sub(r"[\s_]", "", ty).lower()
    try:
        if t == "text":
            if isinstance(v, str):
                return v
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, (datetime, date)):
                return _default(v)
            if isinstance(v, (dict, list, tuple)):
                return _dumps(v)
            return "" if v is None else str(v)
        if t == "number" and isinstance(v, str):
            f = float(v.strip())
            return int(f) if f.is_integer() else f
        if t == "boolean" and isinstance(v, str) and v.strip().lower() in ("true", "false"):
            return v.strip().lower() == "true"
        if t in ("jsonobject", "jsonarray") and isinstance(v, str):
            return _json.loads(v)
        if t in ("textarray", "numberarray", "jsonarray") and isinstance(v, tuple):
            return list(v)
    except (ValueError, TypeError):
        pass
    # Anything else goes as it is: the host converts arguments to the declared types.
    return v


# --- the prelude: what D3's system script defines --------------------------------------------


class APIError(Exception):
    """A call-back into codeless failed (a utility's error, a refused call)."""


class HTTPAPIError(APIError):
    def __init__(self, message, status_code=None):
        super().__init__(message)
        self.status_code = status_code


class _OutputModel(dict):
    """What pb.returnOutputModel returns; recognised when the command returns it."""


class CommandOutput(dict):
    """The output model of a D3.Integration call-back."""


def _log_text(args):
    parts = []
    for a in args:
        if isinstance(a, str):
            parts.append(a)
        elif isinstance(a, (dict, list)):
            parts.append(_dumps(a))
        else:
            parts.append(str(a))
    return " ".join(parts)


class PlaybookRunTime:
    def __init__(self, runtime):
        self.runtime = runtime

    def returnOutputModel(self, result, returnData, keyFields="", contextData="", rawData="", errors=None, passdownData=None):
        # keyFields and contextData are deprecated in D3 and ignored here.
        return _OutputModel(result=result, returnData=returnData, rawData=rawData, errors=errors, passdownData=passdownData)

    def log(self, *args):
        _WORKER.flush_output()
        _WORKER.log(_log_text(args))


class _UtilityCommand:
    def __init__(self, name, ty=None):
        self._name = name
        self._type = ty

    def __getitem__(self, ty):
        return _UtilityCommand(self._name, ty)

    def __call__(self, *args, **named):
        args = list(args)
        if args and self._type:
            args[0] = _convert_first(self._type, args[0])
        reply = _WORKER.ask({"op": "utility", "name": self._name, "type": self._type or "", "args": args, "named": named})
        if "error" in reply:
            raise APIError(reply["error"])
        return reply.get("value")

    def __repr__(self):
        return "D3.Utility.%s" % self._name


class _Utility:
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _UtilityCommand(name)


class _IntegrationCommand:
    def __init__(self, integration, command):
        self._integration = integration
        self._command = command

    def __call__(self, *args, **named):
        reply = _WORKER.ask({"op": "integration", "integration": self._integration, "command": self._command, "args": list(args), "named": named})
        if "error" in reply:
            raise APIError(reply["error"])
        return CommandOutput(reply.get("value") or {})


class _IntegrationCommands:
    def __init__(self, integration):
        self._integration = integration

    def __getattr__(self, command):
        if command.startswith("__"):
            raise AttributeError(command)
        return _IntegrationCommand(self._integration, command)

    __getitem__ = __getattr__


class _Integration:
    def __getattr__(self, integration):
        if integration.startswith("__"):
            raise AttributeError(integration)
        return _IntegrationCommands(integration)

    __getitem__ = __getattr__


class _D3:
    Utility = _Utility()
    Integration = _Integration()


class _Connection:
    """`conn`: requests through the integration's `http:` block, done by codeless."""

    def sendRequest(self, method, path, params=None, json=None, data=None, headers=None):
        reply = _WORKER.ask({"op": "request", "method": method, "path": path, "params": params, "json": json, "data": data, "headers": headers})
        if "error" in reply:
            return None, reply["error"]
        value = reply.get("value") or {}
        return value.get("body"), value.get("error")


class _NoConnection:
    def sendRequest(self, *args, **named):
        raise APIError("conn.sendRequest is available in integration scripts only; this is a utility script")


class _LazyModule:
    """`requests` and `pytz` without an import: imported on first use (or while the worker idles)."""

    def __init__(self, name):
        self._name = name

    def _load(self):
        import importlib

        try:
            return importlib.import_module(self._name)
        except ImportError as e:
            raise ImportError(
                "the %s package is not installed for %s (install it there, or give codeless a "
                "virtual environment or library directory that has it): %s" % (self._name, sys.executable, e)
            ) from None

    def __getattr__(self, attr):
        mod = self._load()
        _PRELUDE[self._name] = mod
        return getattr(mod, attr)

    def __repr__(self):
        return "<module %r (imported on first use)>" % self._name


class _PytzShim:
    """Found when pytz is not installed: `pytz.utc`, `pytz.UTC`, `pytz.timezone(name)`."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "pytz":
            return None
        import importlib.machinery

        return importlib.machinery.ModuleSpec("pytz", _PytzShim)

    @staticmethod
    def create_module(spec):
        return None

    @staticmethod
    def exec_module(module):
        def tz(name):
            if name.upper() == "UTC":
                return timezone.utc
            import zoneinfo

            return zoneinfo.ZoneInfo(name)

        module.utc = timezone.utc
        module.UTC = timezone.utc
        module.timezone = tz
        module.__doc__ = "codeless's stand-in for pytz (not installed): utc, UTC, timezone(name)"


_PRELUDE = {
    "datetime": datetime,
    "timedelta": timedelta,
    "timezone": timezone,
    "json": _json,
    "re": re,
    "time": time,
    "requests": _LazyModule("requests"),
    "pytz": _LazyModule("pytz"),
    "PlaybookRunTime": PlaybookRunTime,
    "APIError": APIError,
    "HTTPAPIError": HTTPAPIError,
    "D3": _D3(),
}


# --- `D3.Utility.name<Type>(...)`: translated with Python's own tokenizer ---------------------


def translate(source):
    """Rewrites `D3.Utility.name <Type>(` as `D3.Utility.name ['Type'](`. Returns the new source and,
    per line, the translated columns where two characters were added (to map positions back)."""
    if "D3" not in source or "<" not in source:
        return source, {}
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source, {}
    edits = []
    n = len(toks)
    for i in range(n - 5):
        t = toks[i]
        if t.type != tokenize.NAME or t.string != "D3":
            continue
        if not (toks[i + 1].string == "." and toks[i + 2].string == "Utility" and toks[i + 3].string == "."
                and toks[i + 4].type == tokenize.NAME):
            continue
        j = i + 5
        if toks[j].string == "<>":
            close, names = j, []
        elif toks[j].string == "<":
            k = j + 1
            while k < n and toks[k].type == tokenize.NAME:
                k += 1
            if k >= n or toks[k].string != ">":
                continue
            close, names = k, toks[j + 1:k]
        else:
            continue
        if close + 1 >= n or toks[close + 1].string != "(":
            continue
        start, end = toks[j].start, toks[close].end
        if start[0] != end[0]:
            continue
        inner = " ".join(x.string for x in names)
        edits.append((start, end, "['%s']" % inner))
    if not edits:
        return source, {}
    lines = source.splitlines(True)
    shifts = {}
    for (row, c0), (_, c1), text in reversed(edits):
        line = lines[row - 1]
        lines[row - 1] = line[:c0] + text + line[c1:]
    for (row, c0), (_, c1), text in edits:
        shifts.setdefault(row, []).append(c0)
    # Translated columns of each edit: earlier edits on the line moved later ones by 2.
    for row, cols in shifts.items():
        shifts[row] = [c + 2 * k for k, c in enumerate(sorted(cols))]
    return "".join(lines), shifts


def original_column(shifts, line, col):
    """A 0-based column of the translated source as a column of the original one."""
    moved = sum(1 for c in shifts.get(line, ()) if c < col)
    return max(0, col - 2 * moved)


# --- the worker -------------------------------------------------------------------------------


class _LogWriter(io.TextIOBase):
    """sys.stdout and sys.stderr during a call: each line becomes a log message."""

    def __init__(self):
        self.buf = []
        self.size = 0

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if "\n" in s:
            head, _, tail = s.rpartition("\n")
            self.buf.append(head)
            text = "".join(self.buf)
            self.buf, self.size = [], 0
            for line in text.split("\n"):
                _WORKER.log(line)
            if tail:
                self.buf.append(tail)
                self.size = len(tail)
        elif s:
            self.buf.append(s)
            self.size += len(s)
        if self.size >= 65536:
            self.flush()
        return len(s)

    def flush(self):
        if self.buf:
            text = "".join(self.buf)
            self.buf, self.size = [], 0
            _WORKER.log(text)


class _Failure(Exception):
    """A call that cannot complete: the message goes to the host as the command's error."""

    def __init__(self, message, cause="script"):
        super().__init__(message)
        self.cause = cause


class Worker:
    CACHE = 8

    def __init__(self):
        self.chan = _Channel()
        self.cache = {}
        self.out = _LogWriter()
        self.base_env = dict(os.environ)
        self.base_path = list(sys.path)
        self.cwd = os.getcwd()
        self.preloaded = False
        sys.meta_path.append(_PytzShim)
        sys.stdin = open(os.devnull, "r")

    def log(self, text):
        self.chan.send({"op": "log", "text": text})

    def flush_output(self):
        self.out.flush()

    def ask(self, msg):
        self.flush_output()
        return self.chan.ask(msg)

    def run(self):
        self.chan.send({"op": "ready", "version": "%d.%d.%d" % sys.version_info[:3], "pid": os.getpid()})
        while True:
            self.preload_when_idle()
            msg = self.chan.receive()
            op = msg.get("op")
            if op == "call":
                self.send_done(self.call(msg))
            elif op == "exit":
                os._exit(0)
            else:
                self.chan.send({"op": "done", "kind": "failure", "cause": "protocol", "message": "unexpected message %r" % (op,), "retire": True})

    def send_done(self, done):
        try:
            self.chan.send(done)
        except (ValueError, TypeError, RecursionError, MemoryError) as e:
            self.chan.send({"op": "done", "kind": "failure", "cause": "script", "retire": isinstance(e, MemoryError),
                            "message": "the command's result cannot be converted to JSON: %s: %s" % (type(e).__name__, e)})

    def preload_when_idle(self):
        """Imports requests while no call waits, so the first command using it does not pay."""
        if self.preloaded:
            return
        import select

        ready, _, _ = select.select([self.chan.inp_fd], [], [], 0)
        if ready:
            return
        self.preloaded = True
        for name in ("requests",):
            try:
                _PRELUDE[name] = __import__(name)
            except Exception:
                pass

    def script(self, msg):
        key = msg["hash"]
        code = self.cache.get(key)
        if code is not None:
            return code
        source = msg.get("source")
        if source is None:
            self.chan.send({"op": "need_source"})
            reply = self.chan.receive()
            if reply.get("op") != "source":
                raise _Failure("codeless sent no script source", "protocol")
            source = reply.get("source") or ""
        path = msg["path"]
        translated, shifts = translate(source)
        try:
            code = compile(translated, path, "exec", dont_inherit=True)
        except SyntaxError as e:
            line = e.lineno or 1
            col = original_column(shifts, line, (e.offset or 1) - 1) + 1
            raise _Failure("the script %s cannot be loaded: %s: %s (line %d, column %d)" % (path, type(e).__name__, e.msg, line, col))
        except (ValueError, RecursionError, MemoryError) as e:
            raise _Failure("the script %s cannot be loaded: %s: %s" % (path, type(e).__name__, e))
        if len(self.cache) >= self.CACHE:
            self.cache.pop(next(iter(self.cache)))
        self.cache[key] = (code, source)
        return self.cache[key]

    def call(self, msg):
        retire = False
        try:
            code, source = self.script(msg)
            result = self.execute(msg, code, source)
            return dict(result, op="done")
        except _Failure as f:
            return {"op": "done", "kind": "failure", "cause": f.cause, "message": str(f), "retire": f.cause != "script"}
        except _ProtocolError as e:
            return {"op": "done", "kind": "failure", "cause": "protocol", "message": str(e), "retire": True}
        finally:
            self.reset()

    def execute(self, msg, code, source):
        path = msg["path"]
        linecache.cache[path] = (len(source), None, source.splitlines(True), path)
        types = msg.get("types") or []
        names = msg.get("names") or []
        try:
            args = tuple(_argument(types[i] if i < len(types) else "", v) for i, v in enumerate(msg.get("args") or []))
        except (ValueError, TypeError) as e:
            raise _Failure("an input cannot be given to Python: %s" % e, "input")
        runtime = {"connector": msg.get("connector") or {}, "retrycount": msg.get("retrycount", 0)}
        integration = msg.get("integration")
        g = dict(_PRELUDE)
        g.update(
            __name__=os.path.splitext(os.path.basename(path))[0] or "script",
            __file__=path,
            __builtins__=builtins,
            runtime=runtime,
            pb=PlaybookRunTime(runtime),
            conn=_Connection() if integration is not None else _NoConnection(),
            args=args,
            input={names[i]: a for i, a in enumerate(args) if i < len(names)},
        )
        sys.stdout = sys.stderr = self.out
        function = msg["function"]
        try:
            exec(code, g)
            fn = g.get(function)
            if not callable(fn):
                raise _Failure(self.no_function(path, function, g), "script")
            value = fn(*args)
            self.out.flush()
            return self.shape(value)
        except _Failure:
            raise
        except _ProtocolError:
            raise
        except SystemExit as e:
            raise _Failure("the script called sys.exit(%s) instead of returning" % ("" if e.code is None else repr(e.code)))
        except MemoryError:
            self.out.buf = []
            # The host writes the headline (it knows the limit); the traceback says where.
            raise _Failure(self.traceback(path), "memory")
        except BaseException as e:
            raise _Failure(self.exception_text(e, path))

    def shape(self, value):
        if isinstance(value, _OutputModel):
            errors = value.get("errors")
            passdown = value.get("passdownData")
            return {
                "kind": "model",
                "result": value.get("result"),
                "returnData": value.get("returnData"),
                "rawData": value.get("rawData"),
                "errors": errors,
                "failed": bool(errors),
                "passdown": passdown if passdown else None,
                "retire": self.threads_left(),
            }
        if isinstance(value, CommandOutput):
            return {"kind": "output", "output": dict(value), "retire": self.threads_left()}
        return {"kind": "value", "value": value, "retire": self.threads_left()}

    @staticmethod
    def threads_left():
        # A thread the script started may outlive the call; such a worker is not reused.
        threading = sys.modules.get("threading")
        return threading is not None and threading.active_count() > 1

    @staticmethod
    def no_function(path, function, g):
        defined = sorted(k for k, v in g.items() if callable(v) and getattr(v, "__module__", None) == g["__name__"] and not k.startswith("_"))
        hint = " (it defines: %s)" % ", ".join(defined) if defined else ""
        return "the script %s defines no function `%s`%s" % (path, function, hint)

    @staticmethod
    def traceback(path):
        import traceback as tb

        frames = [f for f in tb.extract_tb(sys.exc_info()[2]) if f.filename == path]
        lines = ["Traceback (most recent call last):"]
        for f in frames:
            lines.append('  File "%s", line %d, in %s' % (f.filename, f.lineno, f.name))
            if f.line:
                lines.append("    " + f.line.strip())
        return "\n".join(lines)

    def exception_text(self, e, path):
        head = "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
        if isinstance(e, PermissionError) and self.started_a_process():
            head += " (Python commands may not start other processes)"
        return head + "\n" + self.traceback(path)

    @staticmethod
    def started_a_process():
        import traceback as tb

        return any(f.name in ("fork", "_fork_exec", "_execute_child", "posix_spawn", "forkpty")
                   or f.filename.endswith(("subprocess.py", "multiprocessing/popen_fork.py"))
                   for f in tb.extract_tb(sys.exc_info()[2]))

    def reset(self):
        """What one call may have changed that the next must not see."""
        self.out.buf, self.out.size = [], 0
        sys.stdout = sys.stderr = self.out
        sys.path[:] = self.base_path
        if dict(os.environ) != self.base_env:
            os.environ.clear()
            os.environ.update(self.base_env)
        try:
            if os.getcwd() != self.cwd:
                os.chdir(self.cwd)
        except OSError:
            pass


def _name_process_starters():
    """os.fork and friends as Python functions, so a refused one (the sandbox forbids new
    processes) is recognised in the traceback and its error says why."""
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp"):
        real = getattr(os, name, None)
        if real is None:
            continue
        code = "def %s(*args, **named):\n    return _real(*args, **named)\n" % name
        scope = {"_real": real}
        exec(code, scope)
        setattr(os, name, scope[name])


def _main():
    global _WORKER
    _name_process_starters()
    sys.path[:] = [p for p in _CONFIG.get("path", sys.path) if isinstance(p, str)]
    _WORKER = Worker()
    _WORKER.run()


_WORKER = None
