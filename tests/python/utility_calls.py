# The seed's table of utility calls from Python ("Here are some useful and commonly used utility
# commands in the custom Python Script"), each as the seed writes it, and a few more ways to call.

def utilityCommandCalls(): return D3.Utility.concatToRear <Text>("Join ", "Text")


def seedTable():
    return {
        "equals": D3.Utility.equals<Text>("SOAR","SOAR"),
        "contains": D3.Utility.contains<Text>("Welcome to use the SOAR product","SOAR"),
        "greaterThan": D3.Utility.greaterThan<Number>(8000,8000),
        "now": D3.Utility.GetUTCTimeNow<>(),
        "extract": D3.Utility.ExtractArtifactsToJsonObjectArrayWithArrayKeyValueO<JSON Object>(
            {"IPAddress": "10.0.0.1", "RiskLevel": "Low", "Type": "Cyber"}, ["IPAddress", "RiskLevel"]),
    }


def typedFirstArgument():
    # <Text> converts the first argument: a number and a datetime become text.
    return [D3.Utility.concatToRear<Text>(5, "x"), D3.Utility.concatToRear<Text>(datetime(2024, 1, 2, 3, 4, 5), "!")]


def withoutTypeAndByName():
    return D3.Utility.concatToRear("a", value="b")


def failingUtility():
    try:
        D3.Utility.greaterThan<Number>("many", 1)
    except APIError as e:
        return "APIError: %s" % e


def callsOwnIntegration():
    out = D3.Integration.MySIEM.TestConnection()
    return pb.returnOutputModel("", out["status"], "", "", out["rawData"], "")


def callsOtherIntegration():
    return D3.Integration.ChatGPT.ListModels()
