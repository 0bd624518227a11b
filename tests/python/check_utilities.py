def a():
    return D3.Utility.concatToRear<Text>("a", "b")
def b():
    return D3.Utility.concatToRearr <Text>("a", "b")
def c():
    x = D3.Utility.nosuchThing("y")
    y = D3.Utility.concatToRear<Text>("a", "b") + D3.Utility.equal<Text>("c", "c")
    return x, y
