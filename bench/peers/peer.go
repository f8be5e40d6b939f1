// bench/peers/peer.go - the Go peer for bench/peers/run.js: github.com/miekg/pkcs11 (Debian's
// golang-github-miekg-pkcs11-dev) over the same SoftHSM token. Built by run.js in GOPATH mode:
//
//   GO111MODULE=off GOPATH=/usr/share/gocode:<tmp> go build -o <tmp>/peer-go bench/peers/peer.go
//
//   peer-go <module.so> <slotId> <pin> <digestHex> <measure> [args]
//   measures: cheap <warmup> <iters> <reps>       ns per GetSessionInfo
//             sign  <warmup> <seconds> <threads>  SignInit + Sign(CKM_ECDSA), each goroutine its own session
//             slow  <goroutines> <signs>          the same, <signs> in total (slow-token row)
//             sha   <mb> <reps>                   DigestInit + DigestUpdate(1 MB) x mb + DigestFinal
// Prints one JSON line per measurement, then {"cpuSec":…}. The key pair: session objects, P-256,
// private CKA_PRIVATE/SENSITIVE/SIGN, public CKA_VERIFY; its CKA_EC_POINT and one raw (r||s)
// signature per goroutine are printed so run.js verifies them with node:crypto.
package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/pkcs11"
)

func cpuSec() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "peer-go: %s: %v\n", what, err)
		os.Exit(2)
	}
}

func emit(v map[string]interface{}) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

var p11 *pkcs11.Ctx
var slot uint

func openSession() pkcs11.SessionHandle {
	s, err := p11.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	must(err, "OpenSession")
	return s
}

func main() {
	a := os.Args[1:]
	module, pin, measure := a[0], a[2], a[4]
	s64, _ := strconv.ParseUint(a[1], 10, 64)
	slot = uint(s64)
	digest, _ := hex.DecodeString(a[3])
	p11 = pkcs11.New(module) // C_Initialize with CKF_OS_LOCKING_OK
	if p11 == nil {
		fmt.Fprintln(os.Stderr, "peer-go: cannot load", module)
		os.Exit(2)
	}
	must(p11.Initialize(), "Initialize")
	s := openSession()
	must(p11.Login(s, pkcs11.CKU_USER, pin), "Login")
	atoi := func(i int) int { n, _ := strconv.Atoi(a[i]); return n }

	switch measure {
	case "cheap":
		warmup, iters, reps := atoi(5), atoi(6), atoi(7)
		for i := 0; i < warmup; i++ {
			_, err := p11.GetSessionInfo(s)
			must(err, "GetSessionInfo")
		}
		ns := []float64{}
		for r := 0; r < reps; r++ {
			t0 := time.Now()
			for i := 0; i < iters; i++ {
				if _, err := p11.GetSessionInfo(s); err != nil {
					must(err, "GetSessionInfo")
				}
			}
			ns = append(ns, float64(time.Since(t0).Nanoseconds())/float64(iters))
		}
		emit(map[string]interface{}{"measure": "cheap", "impl": "go", "iters": iters, "ns": ns})
	case "sign", "slow":
		p256 := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
		pubT := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, p256),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		}
		privT := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		}
		pub, priv, err := p11.GenerateKeyPair(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}, pubT, privT)
		must(err, "GenerateKeyPair")
		attrs, err := p11.GetAttributeValue(s, pub, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
		must(err, "GetAttributeValue(CKA_EC_POINT)")
		slow := measure == "slow"
		var threads, warmup, total int
		var seconds float64
		if slow {
			threads, total = atoi(5), atoi(6)
		} else {
			warmup, threads = atoi(5), atoi(7)
			seconds, _ = strconv.ParseFloat(a[6], 64)
		}
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}
		var stop int32
		left := int64(total)
		ops := make([]int64, threads)
		last := make([]string, threads)
		var ready, start, done sync.WaitGroup
		ready.Add(threads)
		start.Add(1)
		done.Add(threads)
		for t := 0; t < threads; t++ {
			go func(id int) {
				defer done.Done()
				ss := openSession()
				var sig []byte
				one := func() {
					must(p11.SignInit(ss, mech, priv), "SignInit")
					var err error
					sig, err = p11.Sign(ss, digest)
					must(err, "Sign")
				}
				for i := 0; i < warmup; i++ {
					one()
				}
				ready.Done()
				start.Wait()
				n := int64(0)
				if slow {
					for atomic.AddInt64(&left, -1) >= 0 {
						one()
						n++
					}
				} else {
					for atomic.LoadInt32(&stop) == 0 {
						one()
						n++
					}
				}
				ops[id] = n
				if sig != nil {
					last[id] = hex.EncodeToString(sig)
				}
				p11.CloseSession(ss)
			}(t)
		}
		ready.Wait()
		c0, t0 := cpuSec(), time.Now()
		start.Done()
		if !slow {
			time.Sleep(time.Duration(seconds * float64(time.Second)))
			atomic.StoreInt32(&stop, 1)
		}
		done.Wait()
		secs, c1 := time.Since(t0).Seconds(), cpuSec()
		n := int64(0)
		for _, o := range ops {
			n += o
		}
		sigs := []string{}
		for _, x := range last {
			if x != "" {
				sigs = append(sigs, x)
			}
		}
		emit(map[string]interface{}{"measure": measure, "impl": "go", "threads": threads, "ops": n, "seconds": secs,
			"opsPerSec": float64(n) / secs, "cpuCores": (c1 - c0) / secs, "ecPoint": hex.EncodeToString(attrs[0].Value),
			"sigFormat": "p1363", "sigs": sigs})
	case "sha":
		mb, reps := atoi(5), atoi(6)
		chunk := make([]byte, 1<<20)
		for i := range chunk {
			chunk[i] = byte((i*7 + 3) & 0xff)
		}
		ms := []float64{}
		var d []byte
		for r := 0; r < reps+1; r++ {
			t0 := time.Now()
			must(p11.DigestInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256, nil)}), "DigestInit")
			for i := 0; i < mb; i++ {
				must(p11.DigestUpdate(s, chunk), "DigestUpdate")
			}
			var err error
			d, err = p11.DigestFinal(s)
			must(err, "DigestFinal")
			if r > 0 {
				ms = append(ms, float64(time.Since(t0).Nanoseconds())/1e6)
			}
		}
		emit(map[string]interface{}{"measure": "sha", "impl": "go", "mb": mb, "ms": ms, "digest": hex.EncodeToString(d)})
	default:
		fmt.Fprintln(os.Stderr, "peer-go: unknown measure", measure)
		os.Exit(2)
	}
	p11.Logout(s)
	p11.CloseSession(s)
	p11.Finalize()
	emit(map[string]interface{}{"cpuSec": cpuSec()})
}
