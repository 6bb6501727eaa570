import threading
import unittest
import urllib.request

import server


class ServerTest(unittest.TestCase):
    def setUp(self):
        self.server = server.serve(0)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_health(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_/health") as response:
            self.assertEqual(response.status, 200)

    def test_greets_the_body(self):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/", data=b"funcd")
        with urllib.request.urlopen(request) as response:
            self.assertTrue(response.read().decode().endswith("You said: funcd"))


if __name__ == "__main__":
    unittest.main()
