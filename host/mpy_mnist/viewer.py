"""The emulated board in a browser: its LCD live, its console beside it, and the mouse (or a finger) on the LCD as
the board's touch panel, so that `mnist.draw()` reads digits drawn on the page.

    with viewer.serve(emu) as view:        # emu: a running mpy_mnist.emulator.Emulator
        ...                                # the page is at view.url, http://127.0.0.1:8480/

(`listen(port)` binds the address alone, before the board starts, and `serve(emu, server=...)` takes it.)

A stdlib HTTP server on 127.0.0.1 only: GET / is the page (viewer.html), GET /board a WebSocket that carries out
the LCD (a binary message, the raw RGB565 frame, whenever it changed, checked FRAME_HZ times a second) and, as JSON
text messages, the LCD's size, the board's serial port and its console; and carries in the pen ("down x y",
"move x y", "up x y"). Frames are read from the board's PSRAM file and the pen written into it
(emulator.SharedMemory), the console is tailed from QEMU's log of it: none of it stops the board or touches the
pty that mpremote uses.
"""

import base64
import codecs
import contextlib
import hashlib
import ipaddress
import json
import socket
import struct
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import emulator, paths

HOST = "127.0.0.1"
FRAME_HZ = 30
CONSOLE_BACKLOG = 16 * 1024  # bytes of console a page gets when it connects
PAGE = Path(__file__).with_name("viewer.html")
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 4096  # the page only ever sends short pen messages


class ViewerError(Exception):
    """The viewer could not start."""


class TouchScreen:
    """The emulated board's LCD and touch panel as the host sees them, in the memory it shares with QEMU."""

    def __init__(self, emu):
        self.width, self.height = (emulator.board_constant(name) for name in ("LCD_WIDTH", "LCD_HEIGHT"))
        self.lcd = emulator.board_constant("LCD_ADDRESS")
        self.touch = emulator.board_constant("TOUCH_ADDRESS")
        self.memory = emu.shared_memory()

    def frame(self) -> bytes:
        """The LCD: RGB565 words, little-endian, row by row."""
        return self.memory.read(self.lcd, self.width * self.height * 2)

    def pen(self, x: int, y: int, down: bool) -> None:
        x, y = min(max(x, 0), self.width - 1), min(max(y, 0), self.height - 1)
        self.memory.write_word(self.touch, emulator.touch_word(x, y, down))

    def close(self) -> None:
        self.memory.close()


class Viewer:
    """The page and its WebSocket for one emulated board; `stop()` closes the server and every page's connection."""

    def __init__(self, emu, server: "_Server"):
        self.emu = emu
        try:
            self.screen = TouchScreen(emu)
        except BaseException:
            server.server_close()
            raise
        self.stopping = threading.Event()
        self.connections = set()
        self.lock = threading.Lock()
        self.server = server
        self.server.viewer = self
        self.port = self.server.server_address[1]
        self.url = f"http://{HOST}:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, name="viewer", daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self) -> None:
        """Idempotent."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            connection.close()
        for connection in connections:
            connection.join(timeout=5)
        self.thread.join(timeout=5)
        self.screen.close()


def listen(port: int = paths.VIEWER_HTTP_PORT) -> "_Server":
    """The page's address, bound but not yet served: taken before any long work (training, the board's start), so
    that a port in use is an error at once."""
    try:
        return _Server((HOST, port), _Handler)
    except OSError as error:
        raise ViewerError(f"cannot serve the viewer on {HOST}:{port} ({error.strerror}): pass --http-port with "
                          "another port (0 picks a free one)") from None


def serve(emu, port: int = paths.VIEWER_HTTP_PORT, open_browser: bool = False, log=print,
          server: "_Server | None" = None) -> Viewer:
    """Start the viewer for `emu` (a context manager that stops it) on `server` from listen(), else on `port`;
    prints the address and opens a browser only when asked."""
    view = Viewer(emu, server or listen(port))
    log(f"The board in your browser: {view.url}")
    if open_browser:
        import webbrowser

        webbrowser.open(view.url)
    return view


class Recorder:
    """The LCD's distinct frames as they come (FRAME_HZ checks a second, as the page gets them), for an animation:
    `with Recorder(emu) as recording: ...`, then `recording.save("demo.png")`."""

    def __init__(self, emu, hz: float = FRAME_HZ):
        self.screen = TouchScreen(emu)
        self.hz = hz
        self.frames = []  # (seconds since the start, RGB565 bytes)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._record, name="viewer-recorder", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()
        self.screen.close()

    def _record(self):
        started = time.monotonic()
        while not self.stopping.wait(1 / self.hz):
            frame = self.screen.frame()
            if not self.frames or frame != self.frames[-1][1]:
                self.frames.append((time.monotonic() - started, frame))

    def save(self, path, hold_last_s: float = 3.0) -> Path:
        """An animated PNG (or GIF, by the suffix) with each frame shown as long as it was on the LCD."""
        from PIL import Image

        path = Path(path)
        size = self.screen.width, self.screen.height
        images = [Image.fromarray(emulator.rgb565_to_rgb(frame, *size), "RGB") for _, frame in self.frames]
        times = [at for at, _ in self.frames]
        durations = [round(1000 * (end - start)) for start, end in zip(times, times[1:])] + [1000 * hold_last_s]
        images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0)
        return path


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def verify_request(self, request, client_address) -> bool:
        # Bound to 127.0.0.1, so nothing else should reach us; refuse it all the same, before reading a byte.
        return is_loopback(client_address[0])


class _Handler(BaseHTTPRequestHandler):
    server_version = "mpy-mnist-viewer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass  # the person's terminal is for the board, not for request logs

    def do_GET(self):
        viewer = self.server.viewer
        if not self._from_this_machine(viewer):
            self._refuse(HTTPStatus.FORBIDDEN, "the viewer answers pages of 127.0.0.1 and localhost only")
        elif self.path == "/":
            body = PAGE.read_bytes()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/board":
            self._websocket(viewer)
        else:
            self._refuse(HTTPStatus.NOT_FOUND, "not found")

    def _from_this_machine(self, viewer) -> bool:
        """A loopback peer asking for us by a loopback name; and a page of ours (or no page) behind a WebSocket.
        The names stop another site's page from reaching the board through a name that resolves to 127.0.0.1."""
        names = {f"{name}:{viewer.port}" for name in (HOST, "localhost")}
        origin = self.headers.get("Origin")
        return (is_loopback(self.client_address[0]) and self.headers.get("Host") in names
                and (origin is None or origin.removeprefix("http://") in names))

    def _refuse(self, status, text):
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _websocket(self, viewer):
        key = self.headers.get("Sec-WebSocket-Key")
        if self.headers.get("Upgrade", "").lower() != "websocket" or not key:
            self._refuse(HTTPStatus.BAD_REQUEST, "a WebSocket is expected here")
            return
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        self.send_response(HTTPStatus.SWITCHING_PROTOCOLS)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        _Connection(viewer, self.connection, self.rfile).run()


class _Connection:
    """One page: a thread sends it the LCD and the console; this one reads its pen until it goes."""

    def __init__(self, viewer, sock, rfile):
        self.viewer = viewer
        self.sock = sock
        self.rfile = rfile
        self.send_lock = threading.Lock()
        self.closed = threading.Event()
        self.sender = threading.Thread(target=self._send_board, name="viewer-page", daemon=True)
        self.finished = threading.Event()
        self.pen_down = False

    def run(self):
        with self.viewer.lock:
            if self.viewer.stopping.is_set():
                return
            self.viewer.connections.add(self)
        self.sender.start()
        try:
            self._read_pen()
        except OSError:
            pass
        finally:
            if self.pen_down:  # a page that went away mid-stroke lifts its pen
                self.viewer.screen.pen(0, 0, False)
            self.close()
            self.sender.join(timeout=5)
            with self.viewer.lock:
                self.viewer.connections.discard(self)
            self.finished.set()

    def close(self):
        self.closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader

    def join(self, timeout):
        self.finished.wait(timeout)

    def _send_board(self):
        viewer, screen = self.viewer, self.viewer.screen
        log = viewer.emu.console_log
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        offset = max(0, _size(log) - CONSOLE_BACKLOG)
        last_frame = None
        try:
            hello = {"lcd": [screen.width, screen.height], "port": viewer.emu.port}
            self._send(OPCODE_TEXT, json.dumps(hello).encode())
            while not self.closed.is_set():
                started = time.monotonic()
                frame = screen.frame()
                if frame != last_frame:
                    self._send(OPCODE_BINARY, frame)
                    last_frame = frame
                with contextlib.suppress(OSError), open(log, "rb") as console:
                    console.seek(offset)
                    printed = console.read()
                    offset += len(printed)
                    text = decoder.decode(printed)
                    if text:
                        self._send(OPCODE_TEXT, json.dumps({"console": text}).encode())
                self.closed.wait(max(0.0, 1 / FRAME_HZ - (time.monotonic() - started)))
        except OSError:
            self.close()

    def _read_pen(self):
        while not self.closed.is_set():
            message = self._receive()
            if message is None:
                return
            parts = message.split()
            if len(parts) != 3 or parts[0] not in ("down", "move", "up") or not all(p.isdigit() for p in parts[1:]):
                continue  # not a pen message: nothing the board should see
            self.pen_down = parts[0] != "up"
            self.viewer.screen.pen(int(parts[1]), int(parts[2]), self.pen_down)

    def _read(self, count: int) -> bytes | None:
        """`count` bytes from the page, or None when the connection ends first."""
        data = self.rfile.read(count)
        return data if len(data) == count else None

    def _send(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        with self.send_lock:
            self.sock.sendall(header + payload)

    def _receive(self) -> str | None:
        """The next text message from the page; None once it closes or breaks the protocol."""
        while True:
            head = self._read(2)
            if head is None:
                return None
            final, opcode = head[0] & 0x80, head[0] & 0x0F
            masked, length = head[1] & 0x80, head[1] & 0x7F
            if length in (126, 127):
                extended = self._read(2 if length == 126 else 8)
                if extended is None:
                    return None
                length = int.from_bytes(extended, "big")
            if not masked or not final or length > MAX_MESSAGE:  # RFC 6455: a browser masks; we need no fragments
                return None
            masked_data = self._read(4 + length)
            if masked_data is None:
                return None
            mask, data = masked_data[:4], masked_data[4:]
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == OPCODE_CLOSE:
                with contextlib.suppress(OSError):
                    self._send(OPCODE_CLOSE, data[:2])
                return None
            if opcode == OPCODE_PING:
                self._send(OPCODE_PONG, data)
            elif opcode == OPCODE_TEXT:
                return data.decode("utf-8", "replace")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
