import unittest

import handler


class Event:
    def __init__(self, body=b"", method="POST", path="/"):
        self.body = body
        self.method = method
        self.path = path
        self.headers = {}
        self.query = {}


class HandlerTest(unittest.TestCase):
    def test_greets_the_body(self):
        result = handler.handle(Event(b"funcd"), None)
        self.assertEqual(result["statusCode"], 200)
        self.assertEqual(result["body"], "Hello from python3-http! You said: funcd")


if __name__ == "__main__":
    unittest.main()
