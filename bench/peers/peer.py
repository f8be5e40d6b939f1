#!/usr/bin/python3
# bench/peers/peer.py - the Python peer for bench/peers/run.js: PyKCS11 (Debian's python3-pykcs11)
# over the same SoftHSM token, run with /usr/bin/python3 (where apt installs PyKCS11).
#
#   peer.py <module.so> <slotId> <pin> <digestHex> <measure> [args]
#   measures: cheap <warmup> <iters> <reps>       ns per getSessionInfo()
#             sign  <warmup> <seconds> <threads>  session.sign(key, digest, CKM_ECDSA), each thread its own session
#             slow  <threads> <signs>             the same, <signs> in total (slow-token row)
#             sha   <mb> <reps>                   digestSession(SHA-256): update(1 MB) x mb, final()
# Prints one JSON line per measurement, then {"cpuSec":…}. Key pair: session objects, P-256,
# private CKA_PRIVATE/SENSITIVE/SIGN, public CKA_VERIFY; its CKA_EC_POINT and one raw (r||s)
# signature per thread are printed so run.js verifies them with node:crypto.
import json
import os
import sys
import threading
import time

import PyKCS11
from PyKCS11 import LowLevel as LL

a = sys.argv[1:]
module, slot, pin, digest, measure = a[0], int(a[1]), a[2], bytes.fromhex(a[3]), a[4]


def cpu_sec():
    t = os.times()
    return t.user + t.system


def emit(o):
    print(json.dumps(o), flush=True)


lib = PyKCS11.PyKCS11Lib()
lib.load(module)  # PyKCS11's C_Initialize
flags = PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION
s = lib.openSession(slot, flags)
s.login(pin)

if measure == "cheap":
    warmup, iters, reps = int(a[5]), int(a[6]), int(a[7])
    for _ in range(warmup):
        s.getSessionInfo()
    ns = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(iters):
            s.getSessionInfo()
        ns.append((time.perf_counter() - t0) * 1e9 / iters)
    emit({"measure": "cheap", "impl": "python", "iters": iters, "ns": ns})
elif measure in ("sign", "slow"):
    p256 = bytes.fromhex("06082a8648ce3d030107")
    pub_t = [(PyKCS11.CKA_TOKEN, PyKCS11.CK_FALSE), (PyKCS11.CKA_EC_PARAMS, p256), (PyKCS11.CKA_VERIFY, PyKCS11.CK_TRUE)]
    priv_t = [(PyKCS11.CKA_TOKEN, PyKCS11.CK_FALSE), (PyKCS11.CKA_PRIVATE, PyKCS11.CK_TRUE),
              (PyKCS11.CKA_SENSITIVE, PyKCS11.CK_TRUE), (PyKCS11.CKA_SIGN, PyKCS11.CK_TRUE)]
    pub, priv = s.generateKeyPair(pub_t, priv_t, mecha=PyKCS11.MechanismECGENERATEKEYPAIR)
    point = bytes(s.getAttributeValue(pub, [PyKCS11.CKA_EC_POINT])[0])
    slow = measure == "slow"
    if slow:
        threads, total, warmup, seconds = int(a[5]), int(a[6]), 0, 0.0
    else:
        warmup, seconds, threads, total = int(a[5]), float(a[6]), int(a[7]), 0
    mech = PyKCS11.Mechanism(PyKCS11.CKM_ECDSA, None)
    stop = threading.Event()
    left = [total]
    left_lock = threading.Lock()
    ops = [0] * threads
    last = [None] * threads
    errors = []
    barrier = threading.Barrier(threads + 1)

    def take():
        with left_lock:
            left[0] -= 1
            return left[0] >= 0

    def worker(i):
        try:
            ss = lib.openSession(slot, flags)
            sig = None
            for _ in range(warmup):
                sig = ss.sign(priv, digest, mech)
            barrier.wait()
            barrier.wait()
            n = 0
            if slow:
                while take():
                    sig = ss.sign(priv, digest, mech)
                    n += 1
            else:
                while not stop.is_set():
                    sig = ss.sign(priv, digest, mech)
                    n += 1
            ops[i] = n
            last[i] = bytes(sig).hex() if sig is not None else None
            ss.closeSession()
        except Exception as e:  # noqa
            errors.append(repr(e))
            barrier.abort()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    c0, t0 = cpu_sec(), time.perf_counter()
    barrier.wait()
    if not slow:
        time.sleep(seconds)
        stop.set()
    for t in ts:
        t.join()
    secs, c1 = time.perf_counter() - t0, cpu_sec()
    if errors:
        sys.stderr.write("peer.py: " + errors[0] + "\n")
        sys.exit(2)
    n = sum(ops)
    emit({"measure": measure, "impl": "python", "threads": threads, "ops": n, "seconds": secs,
          "opsPerSec": n / secs, "cpuCores": (c1 - c0) / secs, "ecPoint": point.hex(),
          "sigFormat": "p1363", "sigs": [x for x in last if x]})
elif measure == "sha":
    mb, reps = int(a[5]), int(a[6])
    chunk = bytes((i * 7 + 3) & 0xFF for i in range(1 << 20))
    ms, d = [], None
    for r in range(reps + 1):
        t0 = time.perf_counter()
        ds = s.digestSession(PyKCS11.Mechanism(PyKCS11.CKM_SHA256, None))
        for _ in range(mb):
            ds.update(chunk)
        d = bytes(ds.final())
        if r:
            ms.append((time.perf_counter() - t0) * 1e3)
    emit({"measure": "sha", "impl": "python", "mb": mb, "ms": ms, "digest": d.hex()})
else:
    sys.stderr.write("peer.py: unknown measure " + measure + "\n")
    sys.exit(2)

s.logout()
s.closeSession()
emit({"cpuSec": cpu_sec()})
