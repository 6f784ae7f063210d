package dev.oppu.broker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A broker key store and the client trust store that trusts it (PKCS12), made with the JDK's {@code keytool}: a
 * self-signed certificate whose subject alternative names cover the broker's host, for tests and local secured
 * brokers. A real deployment uses certificates from its own CA; the client side only needs
 * {@code ssl.truststore.*} pointing at a store that trusts them.
 */
public record TlsMaterial(Path keyStore, Path trustStore, String password) {

  /** Makes {@code dir/broker.p12} (key + self-signed certificate for {@code host}) and {@code dir/truststore.p12}. */
  public static TlsMaterial generate(Path dir, String host, String password) {
    try {
      Files.createDirectories(dir);
      Path ks = dir.resolve("broker.p12");
      Path ts = dir.resolve("truststore.p12");
      Path crt = dir.resolve("broker.crt");
      Files.deleteIfExists(ks);
      Files.deleteIfExists(ts);
      Files.deleteIfExists(crt);
      String san = "SAN=dns:" + host + (host.equals("localhost") ? ",ip:127.0.0.1" : "")
          + (host.matches("[0-9.]+") ? ",ip:" + host : "");
      keytool("-genkeypair", "-alias", "broker", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "30",
          "-dname", "CN=" + host + ",O=oppu", "-ext", san, "-keystore", ks.toString(), "-storetype", "PKCS12",
          "-storepass", password, "-keypass", password);
      keytool("-exportcert", "-alias", "broker", "-keystore", ks.toString(), "-storetype", "PKCS12", "-storepass",
          password, "-rfc", "-file", crt.toString());
      keytool("-importcert", "-noprompt", "-alias", "oppu-broker", "-file", crt.toString(), "-keystore",
          ts.toString(), "-storetype", "PKCS12", "-storepass", password);
      return new TlsMaterial(ks, ts, password);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make TLS material in " + dir + ": " + e.getMessage(), e);
    }
  }

  private static void keytool(String... args) throws IOException {
    Path bin = Path.of(System.getProperty("java.home"), "bin", "keytool");
    List<String> cmd = new ArrayList<>();
    cmd.add(Files.isExecutable(bin) ? bin.toString() : "keytool");
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("keytool timed out: " + String.join(" ", args[0]));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new IOException("interrupted while running keytool", e);
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IOException("keytool " + args[0] + " failed (exit " + p.exitValue() + "): " + out.trim());
    }
  }
}
