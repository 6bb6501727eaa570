def handle(event, context):
    """Answers one request.

    event.body is the request body (bytes); event.headers, event.method, event.query (a dict)
    and event.path describe the rest. Return a dict: statusCode, body (str, bytes, or a dict
    sent as JSON) and headers.
    """
    name = event.body.decode() or "world"
    print(f"handling {event.method} {event.path} ({len(event.body)} bytes)")
    return {
        "statusCode": 200,
        "body": f"Hello from python3-http! You said: {name}",
        "headers": {"Content-Type": "text/plain"},
    }
