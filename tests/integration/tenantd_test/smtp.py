"""A loopback SMTP sink for the mail tests (alerts, deadline reminders):
smtpd is gone from Python 3.12, and a packaged relay would be a daemon to
configure. Each message is recorded with its envelope."""
import socketserver
import threading


class SmtpSink:
    """Just enough SMTP (RFC 5321) for one client at a time: records each
    message with its envelope."""

    def __init__(self):
        self.mails = []
        # hold(): answer the next messages' DATA only at release(), so a test
        # can act between the client sending a mail and its 250.
        self.held = []
        self._go = threading.Event()
        self._go.set()
        sink = self

        class H(socketserver.StreamRequestHandler):
            def handle(self):
                env = {"from": None, "rcpt": []}
                self.wfile.write(b"220 sink ESMTP\r\n")
                for _ in range(100):  # bounded dialogue
                    line = self.rfile.readline(4096)
                    if not line:
                        return
                    cmd = line.decode("ascii", "replace").strip()
                    up = cmd.upper()
                    if up.startswith(("EHLO", "HELO")):
                        self.wfile.write(b"250 sink\r\n")
                    elif up.startswith("MAIL FROM:"):
                        env["from"] = cmd[10:].strip().strip("<>")
                        self.wfile.write(b"250 ok\r\n")
                    elif up.startswith("RCPT TO:"):
                        env["rcpt"].append(cmd[8:].strip().strip("<>"))
                        self.wfile.write(b"250 ok\r\n")
                    elif up == "DATA":
                        self.wfile.write(b"354 go on\r\n")
                        data = b""
                        while len(data) < 1 << 20:
                            chunk = self.rfile.readline(65536)
                            if not chunk or chunk == b".\r\n":
                                break
                            data += chunk
                        mail = dict(env, data=data.decode("utf-8", "replace"))
                        if not sink._go.is_set():
                            sink.held.append(mail)
                            sink._go.wait(60)
                        sink.mails.append(mail)
                        self.wfile.write(b"250 queued\r\n")
                    elif up == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def hold(self):
        self._go.clear()

    def release(self):
        self._go.set()

    def close(self):
        self._go.set()
        self.srv.shutdown()
        self.srv.server_close()
