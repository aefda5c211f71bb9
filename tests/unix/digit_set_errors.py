# What the digit-set reader says about files that are not digit sets.
from mnist.files import parse_digits

header = b"MNDG\x01\x1c\x1c\x00\x01\x00"
cases = (
    b"",
    b"PNG\x00" + header[4:],
    header[:4] + b"\x07" + header[5:],
    header[:5] + b"\x20\x20" + header[7:],
    header,
    header + b"\x03" + bytes(111),
    header + b"\x0a" + bytes(112),
)
for data in cases:
    try:
        d = parse_digits(data, "test")
        print("ok", d.count, list(d.labels))
    except ValueError as e:
        print("ValueError:", e)
print("ok", parse_digits(header + b"\x03" + bytes(112), "test").count)
