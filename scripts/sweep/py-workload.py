# A CPython workload for the sweep's behaviour comparison: it runs under the
# original and the instrumented python3.11.wasm and must print the same bytes.
# Everything is deterministic (run with PYTHONHASHSEED=0; no clocks, no ids).
import collections, dataclasses, decimal, fractions, functools, hashlib, heapq
import binascii, io, itertools, json, math, os, random, re, struct, sys, textwrap
from datetime import date, datetime, timedelta

print("python", sys.version.split()[0], sys.platform, sys.byteorder, sys.maxsize)

# json round trips, with unicode and nesting
doc = {"name": "Zoë", "tags": ["wasm", "dump", "ü€"], "n": [1, 2.5, -3e-7, None, True],
       "nested": {"a": {"b": {"c": list(range(5))}}}}
text = json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False)
assert json.loads(text) == doc
print("json", len(text), json.dumps(doc, sort_keys=True)[:80])
try:
    json.loads('{"broken": [1, 2,, 3]}')
except json.JSONDecodeError as e:
    print("json error:", e)

# regular expressions
log = "\n".join(f"2024-03-{d:02d} {lvl} req={d * 37 % 101} path=/api/v{d % 3}/items/{d * d}"
                for d, lvl in zip(range(1, 29), itertools.cycle(["INFO", "WARN", "ERROR", "INFO"])))
pat = re.compile(r"^(?P<date>\d{4}-\d\d-\d\d) (?P<lvl>[A-Z]+) req=(?P<req>\d+) path=(?P<path>\S+)$", re.M)
hits = [m.groupdict() for m in pat.finditer(log)]
print("re", len(hits), hits[3], collections.Counter(h["lvl"] for h in hits).most_common())
print("re sub", re.sub(r"/v(\d)/", lambda m: f"/version{int(m[1]) + 1}/", hits[5]["path"]))
print("re split", re.split(r"[,;]\s*|\s+and\s+", "a, b;c and d ,e"))
try:
    re.compile("(unclosed")
except re.error as e:
    print("re error:", e)

# hashing and compression
data = ("The quick brown fox jumps over the lazy dog. " * 2000).encode()
for algo in ("md5", "sha1", "sha256", "sha512", "blake2b", "sha3_256"):
    print("hash", algo, hashlib.new(algo, data).hexdigest()[:32])
try:
    import zlib  # not every WASI build has it
    packed = zlib.compress(data, 9)
    print("zlib", len(data), len(packed), zlib.crc32(data), zlib.decompress(packed) == data)
except ImportError as e:
    print("no zlib:", e)
print("binascii", binascii.crc32(data), binascii.b2a_base64(data[:30]), binascii.hexlify(data[:8], "-"))
print("struct", struct.pack("<iQdh", -2, 2**63 - 1, math.pi, 7).hex(), struct.unpack(">I", b"\x01\x02\x03\x04"))

# decimal and fractions
decimal.getcontext().prec = 50
d = decimal.Decimal(1) / decimal.Decimal(7)
print("decimal", d, decimal.Decimal(2).sqrt(), (decimal.Decimal("1.1") + decimal.Decimal("2.2")))
try:
    decimal.Decimal(1) / decimal.Decimal(0)
except decimal.DivisionByZero as e:
    print("decimal error:", type(e).__name__)
print("fractions", sum(fractions.Fraction(1, n) for n in range(1, 30)))
print("math", math.factorial(40), math.comb(60, 30), math.gcd(2**40 - 1, 2**30 - 1), f"{math.lgamma(100.5):.12f}")
print("bigint", pow(3, 10**4, 10**40 + 7), len(str(7**5000)), (1 << 200) // 12345)
print("float", repr(0.1 + 0.2), float("inf") - 1, math.isnan(float("nan")), f"{1e300 * 1e10}", (-0.0).hex(), 2.5.hex())


# a class hierarchy with abstract methods, properties, dunder methods and dataclasses
class Shape:
    registry = []

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        Shape.registry.append(cls.__name__)

    def area(self):
        raise NotImplementedError(type(self).__name__)

    def __lt__(self, other):
        return self.area() < other.area()

    def __repr__(self):
        return f"{type(self).__name__}(area={self.area():.4f})"


class Rect(Shape):
    def __init__(self, w, h):
        self.w, self.h = w, h

    def area(self):
        return self.w * self.h


class Square(Rect):
    def __init__(self, s):
        super().__init__(s, s)

    @property
    def side(self):
        return self.w


class Circle(Shape):
    def __init__(self, r):
        self.r = r

    def area(self):
        return math.pi * self.r ** 2


class Blob(Shape):
    pass


@dataclasses.dataclass(order=True, frozen=True)
class Point:
    x: int
    y: int = 0

    def norm2(self):
        return self.x * self.x + self.y * self.y


shapes = [Rect(3, 4), Square(2.5), Circle(1.5), Rect(0.5, 10), Circle(0.1)]
print("classes", Shape.registry, sorted(shapes), Square.__mro__[1].__name__, Square(3).side)
try:
    Blob().area()
except NotImplementedError as e:
    print("abstract:", repr(e))
pts = sorted({Point(x % 7, x % 5) for x in range(40)})
print("dataclass", pts[:5], max(pts, key=Point.norm2), Point(1) == Point(1, 0))
try:
    pts[0].x = 9
except dataclasses.FrozenInstanceError as e:
    print("frozen:", type(e).__name__)


# exceptions: chaining, finally, custom classes, exception groups
class AppError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def parse(s):
    try:
        return int(s)
    except ValueError as e:
        raise AppError(400, f"bad number {s!r}") from e
    finally:
        trail.append(s)


trail = []
results = []
for s in ["12", "x7", "-3", "", "0x10"]:
    try:
        results.append(parse(s))
    except AppError as e:
        results.append((e.code, str(e), type(e.__cause__).__name__))
print("exceptions", results, trail)
try:
    raise ExceptionGroup("many", [ValueError("v"), KeyError("k"), TypeError("t")])
except* (ValueError, TypeError) as g:
    print("group caught", sorted(str(x) for x in g.exceptions))
except* KeyError as g:
    print("group caught keys", [repr(x) for x in g.exceptions])
try:
    {}["missing"]
except LookupError as e:
    print("lookup", repr(e))
try:
    1 / 0
except ZeroDivisionError as e:
    print("zero", e)


def deep(n):
    return 0 if n == 0 else 1 + deep(n - 1)


print("recursion", deep(500))
try:
    deep(10**6)
except RecursionError as e:
    print("recursion error:", str(e)[:40])

# generators, itertools, functools, heapq, collections
def primes():
    seen = []
    for n in itertools.count(2):
        if all(n % p for p in seen if p * p <= n):
            seen.append(n)
            yield n


print("primes", list(itertools.islice(primes(), 20)), sum(itertools.takewhile(lambda p: p < 20000, primes())))
@functools.lru_cache(maxsize=None)
def partitions(n, k):
    return 1 if n == 0 else sum(partitions(n - i, i) for i in range(1, min(n, k) + 1))
print("partitions", partitions(120, 120), partitions.cache_info().currsize)
print("heapq", heapq.nsmallest(5, (x * 7919 % 1009 for x in range(3000))), list(heapq.merge([1, 4, 9], [2, 3, 10])))
words = re.findall(r"[a-z]+", textwrap.dedent(Shape.__init_subclass__.__doc__ or "") + log.lower())
print("counter", collections.Counter(words).most_common(4), collections.OrderedDict.fromkeys("abracadabra"))
dq = collections.deque(range(10), maxlen=6); dq.rotate(2)
print("deque", list(dq), collections.ChainMap({"a": 1}, {"a": 2, "b": 3})["b"])

# random with a seed, sorting with keys, formatting
rng = random.Random(2024)
xs = [rng.randint(-1000, 1000) for _ in range(2000)]
print("random", xs[:6], sorted(xs, key=lambda v: (abs(v), v))[:6], rng.choice("abcdef"), f"{rng.random():.15f}")
print("sort", sorted(["b", "A", "c", "B", "a"], key=str.casefold), sorted(range(20), key=lambda v: -v % 7)[:8])
print("format", f"{1234567.891:,.2f}|{255:#010b}|{'mid':^9}|{0.000123:e}|{-42:+05d}|{3.0:g}|{'ß'.upper()}")
print("textwrap", textwrap.fill("WebAssembly post-mortem debugging with core dumps, " * 3, 40).splitlines())

# dates (fixed, no clock)
d0 = date(2024, 2, 28)
print("dates", d0 + timedelta(days=1), (date(2025, 1, 1) - d0).days, datetime(2024, 3, 10, 12, 30).isoformat(),
      datetime.strptime("2023-07-04 09:15", "%Y-%m-%d %H:%M").strftime("%A %j"))

# files through WASI (the sweep maps a scratch directory at /work)
path = "/work/py-scratch.txt"
with open(path, "w", encoding="utf-8") as f:
    for i in range(1000):
        f.write(f"line {i} {hashlib.md5(str(i).encode()).hexdigest()}\n")
with open(path, "rb") as f:
    raw = f.read()
print("files", len(raw), hashlib.sha256(raw).hexdigest()[:16], os.path.getsize(path), "py-scratch.txt" in os.listdir("/work"))
os.remove(path)
try:
    open("/work/does/not/exist")
except FileNotFoundError as e:
    print("file error:", e.errno, e.strerror)
buf = io.StringIO()
print("to a buffer", file=buf)
print("stringio", repr(buf.getvalue()))

print("to stderr", file=sys.stderr)
print("done")
