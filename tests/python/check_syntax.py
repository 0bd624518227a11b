# A syntax error on a line that also holds a translated D3.Utility call.
def fetchEvent(*args):
    joined = D3.Utility.concatToRear<Text>("a", "b") +* 2
    return joined
