"""RFC 6238 one-time codes (HMAC-SHA-1), written from the RFC with hmac and
hashlib, so the tests check the worker against an implementation that is
not its own."""
import base64
import hashlib
import hmac
import struct


def totp(secret_b32, t, digits=6, step=30):
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(t) // step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


def other_code(code):
    """A well-formed code that is not this one."""
    return "123456" if code != "123456" else "654321"
