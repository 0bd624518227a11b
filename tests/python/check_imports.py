import os.path, json
import numpy
from pandas.core import frame
import requests
from pytz import utc
def f():
    import yaml
    from . import sibling
    import zoneinfo, __future__
