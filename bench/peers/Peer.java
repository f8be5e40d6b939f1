// bench/peers/Peer.java - the Java peer for bench/peers/run.js: SunPKCS11 over the same SoftHSM
// token. Compiled with javac at bench time. One JSON line per measurement, then {"cpuSec":…}.
//
//   java -cp <dir> Peer <module.so> <slotId> <pin> <digestHex> <measure> [args]
//   measures: sign <warmup> <seconds> <threads>   NONEwithECDSA, each thread its own Signature
//             slow <threads> <signs>              the same, <signs> in total (slow-token row)
//             sha  <mb> <reps>                    MessageDigest SHA-256, 1 MB updates
//             cheap                               n/a: SunPKCS11 has no C_GetSessionInfo call
//
// The key pair is generated through the provider as session objects with the bench template
// (config `attributes(generate, …)`: CKA_TOKEN false, private CKA_PRIVATE/SENSITIVE/SIGN, public
// CKA_VERIFY; P-256 named curve). The public key (X.509 SPKI DER) and one DER signature per run
// are printed so run.js verifies them with node:crypto.
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.*;
import java.security.spec.ECGenParameterSpec;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;

public class Peer {
  static volatile boolean stop;

  static String hex(byte[] b) {
    StringBuilder s = new StringBuilder();
    for (byte x : b) s.append(String.format("%02x", x & 0xff));
    return s.toString();
  }

  static byte[] unhex(String h) {
    byte[] b = new byte[h.length() / 2];
    for (int i = 0; i < b.length; i++) b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
    return b;
  }

  static double cpuSec() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
  }

  static Provider provider(String module, String slot) throws Exception {
    Path cfg = Files.createTempFile("peers-pkcs11", ".cfg");
    String text = "name = peers\nlibrary = " + module + "\nslot = " + slot + "\n"
        + "attributes(generate, CKO_PRIVATE_KEY, CKK_EC) = {\n  CKA_TOKEN = false\n  CKA_PRIVATE = true\n  CKA_SENSITIVE = true\n  CKA_SIGN = true\n}\n"
        + "attributes(generate, CKO_PUBLIC_KEY, CKK_EC) = {\n  CKA_TOKEN = false\n  CKA_VERIFY = true\n}\n";
    Files.writeString(cfg, text);
    Provider p = Security.getProvider("SunPKCS11").configure(cfg.toString());
    Files.delete(cfg);
    return p;
  }

  public static void main(String[] a) throws Exception {
    String module = a[0], slot = a[1], pin = a[2], measure = a[4];
    byte[] digest = unhex(a[3]);
    Provider p = provider(module, slot);
    KeyStore ks = KeyStore.getInstance("PKCS11", p);
    ks.load(null, pin.toCharArray()); // C_Login
    String out;
    if (measure.equals("sha")) {
      int mb = Integer.parseInt(a[5]), reps = Integer.parseInt(a[6]);
      byte[] chunk = new byte[1 << 20];
      for (int i = 0; i < chunk.length; i++) chunk[i] = (byte) ((i * 7 + 3) & 0xff);
      StringBuilder ms = new StringBuilder();
      byte[] d = null;
      for (int r = 0; r < reps + 1; r++) { // the first pass is a warm-up
        long t0 = System.nanoTime();
        MessageDigest md = MessageDigest.getInstance("SHA-256", p);
        for (int i = 0; i < mb; i++) md.update(chunk);
        d = md.digest();
        long t1 = System.nanoTime();
        if (r > 0) ms.append(r > 1 ? "," : "").append(String.format("%.3f", (t1 - t0) / 1e6));
      }
      out = "{\"measure\":\"sha\",\"impl\":\"java\",\"mb\":" + mb + ",\"ms\":[" + ms + "],\"digest\":\"" + hex(d)
          + "\",\"provider\":\"" + MessageDigest.getInstance("SHA-256", p).getProvider().getName() + "\"}";
    } else if (measure.equals("sign") || measure.equals("slow")) {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC", p);
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair kp = g.generateKeyPair();
      PrivateKey priv = kp.getPrivate();
      boolean slow = measure.equals("slow");
      int threads = Integer.parseInt(slow ? a[5] : a[7]);
      long warmup = slow ? 0 : Long.parseLong(a[5]);
      double seconds = slow ? 0 : Double.parseDouble(a[6]);
      int total = slow ? Integer.parseInt(a[6]) : 0;
      AtomicInteger left = new AtomicInteger(total);
      long[] ops = new long[threads];
      byte[][] last = new byte[threads][];
      Throwable[] err = new Throwable[1];
      CyclicBarrier ready = new CyclicBarrier(threads + 1);
      Thread[] ts = new Thread[threads];
      for (int t = 0; t < threads; t++) {
        final int id = t;
        ts[t] = new Thread(() -> {
          try {
            Signature s = Signature.getInstance("NONEwithECDSA", p);
            s.initSign(priv);
            for (long i = 0; i < warmup; i++) { s.update(digest); last[id] = s.sign(); }
            ready.await();
            ready.await();
            long n = 0;
            if (slow) {
              while (left.getAndDecrement() > 0) { s.update(digest); last[id] = s.sign(); n++; }
            } else {
              while (!stop) { s.update(digest); last[id] = s.sign(); n++; }
            }
            ops[id] = n;
          } catch (Throwable e) {
            err[0] = e;
            stop = true;
            try { ready.reset(); } catch (Throwable ignored) {}
          }
        });
        ts[t].start();
      }
      ready.await();
      double c0 = cpuSec();
      long t0 = System.nanoTime();
      ready.await();
      if (!slow) Thread.sleep((long) (seconds * 1000));
      stop = true;
      long n = 0;
      for (int t = 0; t < threads; t++) { ts[t].join(); n += ops[t]; }
      long t1 = System.nanoTime();
      double c1 = cpuSec();
      if (err[0] != null) throw new RuntimeException(err[0]);
      double secs = (t1 - t0) / 1e9;
      StringBuilder sigs = new StringBuilder();
      for (int t = 0; t < threads; t++) if (last[t] != null) sigs.append(sigs.length() > 0 ? "," : "").append('"').append(hex(last[t])).append('"');
      out = "{\"measure\":\"" + measure + "\",\"impl\":\"java\",\"threads\":" + threads + ",\"ops\":" + n
          + ",\"seconds\":" + String.format("%.4f", secs) + ",\"opsPerSec\":" + String.format("%.1f", n / secs)
          + ",\"cpuCores\":" + String.format("%.3f", (c1 - c0) / secs)
          + ",\"pubSpki\":\"" + hex(kp.getPublic().getEncoded()) + "\",\"sigFormat\":\"der\",\"sigs\":[" + sigs + "]}";
    } else {
      out = "{\"measure\":\"" + measure + "\",\"impl\":\"java\",\"na\":\"SunPKCS11 exposes no C_GetSessionInfo (no cheap call to time)\"}";
    }
    System.out.println(out);
    System.out.println("{\"cpuSec\":" + String.format("%.4f", cpuSec()) + "}");
    System.out.flush();
    System.exit(0);
  }
}
