"""mpack: a small, strict msgpack encoder and decoder for the integration tests.

Written here (instead of depending on python3-msgpack) so that the tests run
with Debian's /usr/bin/python3 and nothing else, and so that they check the
engine's bytes against an implementation that shares no code with it.

Types: None, bool, int (-2^63 .. 2^64-1), float (encoded as float64), str,
bytes/bytearray (bin), list/tuple (array), dict (map). Decoding returns str
for str, bytes for bin, list for arrays and dict for maps; ext types are
refused because the protocol never uses them.
"""

import struct


class MpackError(ValueError):
    pass


def packb(obj):
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


def _pack(o, out):
    if o is None:
        out.append(0xC0)
    elif o is True:
        out.append(0xC3)
    elif o is False:
        out.append(0xC2)
    elif isinstance(o, int):
        _pack_int(o, out)
    elif isinstance(o, float):
        out.append(0xCB)
        out += struct.pack(">d", o)
    elif isinstance(o, str):
        b = o.encode("utf-8")
        n = len(b)
        if n < 32:
            out.append(0xA0 | n)
        elif n < 0x100:
            out += bytes((0xD9, n))
        elif n < 0x10000:
            out.append(0xDA)
            out += struct.pack(">H", n)
        else:
            out.append(0xDB)
            out += struct.pack(">I", n)
        out += b
    elif isinstance(o, (bytes, bytearray, memoryview)):
        b = bytes(o)
        n = len(b)
        if n < 0x100:
            out += bytes((0xC4, n))
        elif n < 0x10000:
            out.append(0xC5)
            out += struct.pack(">H", n)
        else:
            out.append(0xC6)
            out += struct.pack(">I", n)
        out += b
    elif isinstance(o, (list, tuple)):
        n = len(o)
        if n < 16:
            out.append(0x90 | n)
        elif n < 0x10000:
            out.append(0xDC)
            out += struct.pack(">H", n)
        else:
            out.append(0xDD)
            out += struct.pack(">I", n)
        for x in o:
            _pack(x, out)
    elif isinstance(o, dict):
        n = len(o)
        if n < 16:
            out.append(0x80 | n)
        elif n < 0x10000:
            out.append(0xDE)
            out += struct.pack(">H", n)
        else:
            out.append(0xDF)
            out += struct.pack(">I", n)
        for k, v in o.items():
            _pack(k, out)
            _pack(v, out)
    else:
        raise TypeError("mpack cannot encode %r" % type(o))


def _pack_int(i, out):
    if 0 <= i < 0x80:
        out.append(i)
    elif -32 <= i < 0:
        out.append(i & 0xFF)
    elif i >= 0:
        if i < 0x100:
            out += bytes((0xCC, i))
        elif i < 0x10000:
            out.append(0xCD)
            out += struct.pack(">H", i)
        elif i < 0x100000000:
            out.append(0xCE)
            out += struct.pack(">I", i)
        elif i < 0x10000000000000000:
            out.append(0xCF)
            out += struct.pack(">Q", i)
        else:
            raise OverflowError(i)
    else:
        if i >= -0x80:
            out.append(0xD0)
            out += struct.pack(">b", i)
        elif i >= -0x8000:
            out.append(0xD1)
            out += struct.pack(">h", i)
        elif i >= -0x80000000:
            out.append(0xD2)
            out += struct.pack(">i", i)
        elif i >= -0x8000000000000000:
            out.append(0xD3)
            out += struct.pack(">q", i)
        else:
            raise OverflowError(i)


def unpackb(data):
    """Decode exactly one object; trailing bytes are an error."""
    data = bytes(data)
    obj, pos = _unpack(data, 0)
    if pos != len(data):
        raise MpackError("%d trailing bytes" % (len(data) - pos))
    return obj


def _need(data, pos, n):
    if pos + n > len(data):
        raise MpackError("truncated at %d (need %d)" % (pos, n))


def _unpack(d, p):
    _need(d, p, 1)
    b = d[p]
    p += 1
    if b < 0x80:
        return b, p
    if b >= 0xE0:
        return b - 0x100, p
    if 0x80 <= b <= 0x8F:
        return _unpack_map(d, p, b & 0x0F)
    if 0x90 <= b <= 0x9F:
        return _unpack_array(d, p, b & 0x0F)
    if 0xA0 <= b <= 0xBF:
        return _unpack_str(d, p, b & 0x1F)
    if b == 0xC0:
        return None, p
    if b == 0xC2:
        return False, p
    if b == 0xC3:
        return True, p
    fixed = {
        0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
        0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q",
        0xCA: ">f", 0xCB: ">d",
    }
    if b in fixed:
        fmt = fixed[b]
        n = struct.calcsize(fmt)
        _need(d, p, n)
        return struct.unpack_from(fmt, d, p)[0], p + n
    lens = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4,
            0xDC: 2, 0xDD: 4, 0xDE: 2, 0xDF: 4}
    if b in lens:
        w = lens[b]
        _need(d, p, w)
        n = int.from_bytes(d[p:p + w], "big")
        p += w
        if b in (0xC4, 0xC5, 0xC6):
            _need(d, p, n)
            return d[p:p + n], p + n
        if b in (0xD9, 0xDA, 0xDB):
            return _unpack_str(d, p, n)
        if b in (0xDC, 0xDD):
            return _unpack_array(d, p, n)
        return _unpack_map(d, p, n)
    raise MpackError("unsupported type byte 0x%02x at %d" % (b, p - 1))


def _unpack_str(d, p, n):
    _need(d, p, n)
    try:
        return d[p:p + n].decode("utf-8"), p + n
    except UnicodeDecodeError as e:
        raise MpackError("str is not UTF-8: %s" % e)


def _unpack_array(d, p, n):
    out = []
    for _ in range(n):
        x, p = _unpack(d, p)
        out.append(x)
    return out, p


def _unpack_map(d, p, n):
    out = {}
    for _ in range(n):
        k, p = _unpack(d, p)
        v, p = _unpack(d, p)
        if isinstance(k, (list, dict)):
            raise MpackError("unhashable map key")
        out[k] = v
    return out, p


if __name__ == "__main__":
    # Self-check: round trips across every size class.
    samples = [None, True, False, 0, 127, 128, 255, 256, 65535, 65536,
               2**32 - 1, 2**32, 2**64 - 1, -1, -32, -33, -128, -129,
               -32768, -32769, -2**31, -2**31 - 1, -2**63, 1.5, "", "a" * 31,
               "a" * 32, "b" * 255, "c" * 256, "d" * 65536, b"", b"x" * 300,
               b"y" * 70000, list(range(20)), {"op": "ping", "id": 1},
               {str(i): i for i in range(20)}, "h\u00e9llo \U0001F600"]
    for s in samples:
        assert unpackb(packb(s)) == s, s
    print("mpack ok")
