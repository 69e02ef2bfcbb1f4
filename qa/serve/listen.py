"""Where ``qa serve`` listens: is the port free, which address a browser opens, and saying it once the
server accepts connections (the server listens only after the index and the models have loaded)."""

from __future__ import annotations

from qa.errors import QAError


def port_free(host: str, port: int) -> None:
    """Fail at once, with the fix, when the port is taken (uvicorn would say so only after everything loaded)."""
    import socket

    if not host:  # "" is every interface to uvicorn; getaddrinfo does not take it
        host = "0.0.0.0"
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise QAError(f"cannot serve on host {host!r} ({exc.strerror or exc}): use --host 127.0.0.1 or 0.0.0.0") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(addr)
        except OSError as exc:
            raise QAError(f"cannot serve on {where} ({exc.strerror or exc}): "
                          "choose another port with --port, e.g. --port 7861") from None


def reachable(host: str) -> str:
    """The host to connect to for a server bound to ``host`` (every interface: this machine's own)."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def browser_url(host: str, port: int) -> str:
    """The address to open in a browser for a server listening on ``host``:``port``."""
    host = reachable(host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def announce_when_listening(host: str, port: int, timeout: float = 600.0):
    """Print the address to open as soon as the server accepts connections (a background thread).

    The server starts listening only after the index, the model and the reader have loaded, so the
    line comes when the page can actually be opened.
    """
    import socket
    import threading
    import time

    url = browser_url(host, port)
    target = reachable(host)

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((target, port), timeout=1):
                    print(f"qa is serving its web UI: open {url} in a browser (Ctrl+C stops it)", flush=True)
                    return
            except OSError:
                time.sleep(0.2)

    thread = threading.Thread(target=wait, name="qa-announce", daemon=True)
    thread.start()
    return thread
