# The seed's "User Case II": one command making several requests; a failed request's error goes to
# rawData's errorMessages instead of `errors`, so the command is Partially Successful, not Failed.

def fetchEvents(*args):
    eventIds = args[0]
    results = []
    errorMessages = []
    for eventId in eventIds:
        body, error = conn.sendRequest("GET", "/events/%s" % eventId)
        if error:
            errorMessages.append(error)
        else:
            results.append(body)
    if errorMessages and results:
        returnData = "Partially Successful"
    elif errorMessages:
        returnData = "Failed"
    else:
        returnData = "Successful"
    rawData = {"results": results, "errorMessages": errorMessages}
    result = "%d of %d events fetched" % (len(results), len(eventIds))
    return pb.returnOutputModel(result, returnData, "", "", rawData, [])
