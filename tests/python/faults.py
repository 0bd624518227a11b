# Scripts that misbehave, one way each (tests/python.rs, "faults"). Every one must fail its own call
# and nothing else.
import os
import sys
import threading


def Ok():
    return "fine"


def Raises():
    key = runtime["connector"]["apikey"]
    raise ValueError("the server refused key " + key)


def Exits():
    sys.exit(3)


def HardExit():
    os._exit(7)


def Sleeps():
    time.sleep(30)
    return "woke"


def Allocates():
    block = bytearray(10 * 1024 ** 3)
    return len(block)


def Prints():
    line = "x" * (1024 * 1024)
    for _ in range(1024):
        print(line)
    return "printed 1 GiB"


def Forks():
    children = 0
    while True:
        if os.fork() == 0:
            os._exit(0)
        children += 1


def RunsAProgram():
    import subprocess
    return subprocess.run(["true"]).returncode


def ReadsEnvironment():
    return {"environ": dict(os.environ), "connector": runtime["connector"]}


def WritesOutside(path):
    with open(path, "w") as f:
        f.write("written from Python")
    return "wrote " + path


def WritesInside():
    existed = os.path.exists("left-behind.txt")
    with open("left-behind.txt", "w") as f:
        f.write("x")
    return {"cwd": os.getcwd(), "existed": existed}


def BurnsCpu():
    while True:
        pass


def Segfaults():
    import ctypes
    return ctypes.string_at(0)


def LeavesAThread():
    threading.Thread(target=time.sleep, args=(3,), daemon=True).start()
    return os.getpid()


def Pid():
    return os.getpid()


def Logs():
    pb.log("from pb.log with the key", runtime["connector"]["apikey"])
    print("from print", "\x1b[31mred\x1b[0m")
    sys.stderr.write("from stderr\n")
    print("no newline yet", end="")
    return "logged"
