import json as input
pb = None
def runtime():
    pass
class APIError(Exception):
    pass
for args in []:
    pass
if True:
    PlaybookRunTime = object
def helper(pb, args):
    runtime = 1
    return pb
def setter():
    global HTTPAPIError
    HTTPAPIError = None
squares = [(runtime := n) for n in range(2)]
ok = [pb for pb in range(3)]
