# Nothing to report: reserved names as parameters and locals, the standard library, requests,
# pytz, known utilities, helpers beside the command functions.
import re, json
import requests
from datetime import datetime as dt

def fetchEvent(pb_value, args=None):
    input = D3.Utility.GetUTCTimeNow<>()
    runtime = {"x": 1}
    return [pb for pb in range(2)], input, runtime

async def TestConnection():
    return D3.Utility.equals<Text>("a", "a")

if True:
    def conditional():
        pass

class Helper:
    def method(self):
        pass
