package dev.oppu.system;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.EmbeddedKafkaBroker;
import dev.oppu.broker.TlsMaterial;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The logins of a secured local broker ({@code oppu broker --secured}): one SCRAM-SHA-512 login per role of
 * {@link Acls} (default principal names), a random password each, and the broker's TLS material, kept on disk so a
 * restart on the same log dir finds the logins it was formatted with. Each role gets a ready client file
 * {@code <clients dir>/<name>.properties} (SASL_SSL, its login, the trust store) for {@code --kafka-config}.
 */
public final class LocalLogins {
  private static final String ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  private static final String TLS_PASSWORD_FILE = "password";

  private final TlsMaterial tls;
  private final Map<String, String> passwords;
  private final Path clientsDir;

  private LocalLogins(TlsMaterial tls, Map<String, String> passwords, Path clientsDir) {
    this.tls = tls;
    this.passwords = passwords;
    this.clientsDir = clientsDir;
  }

  /**
   * Reads the logins under {@code clientsDir} and the TLS material under {@code tlsDir}, making what is missing: a
   * certificate for {@code host} and a password for every role's user without a client file.
   */
  public static LocalLogins openOrCreate(Path tlsDir, Path clientsDir, String host) {
    try {
      Files.createDirectories(clientsDir);
      SecureRandom random = new SecureRandom();
      Path pwFile = tlsDir.resolve(TLS_PASSWORD_FILE);
      TlsMaterial tls;
      if (Files.isRegularFile(pwFile) && Files.isRegularFile(tlsDir.resolve("broker.p12"))) {
        tls = new TlsMaterial(tlsDir.resolve("broker.p12"), tlsDir.resolve("truststore.p12"),
            Files.readString(pwFile, StandardCharsets.UTF_8).trim());
      } else {
        tls = TlsMaterial.generate(tlsDir, host, secret(random));
        writePrivate(pwFile, tls.password());
      }
      Map<String, String> passwords = new LinkedHashMap<>();
      for (Acls.Role role : Acls.Role.values()) {
        String user = userOf(Acls.Principals.defaults().of(role));
        Path file = clientsDir.resolve(user + ".properties");
        String password = Files.isRegularFile(file) ? passwordIn(ClientConfig.load(file)) : secret(random);
        passwords.put(user, password);
      }
      return new LocalLogins(tls, passwords, clientsDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Secures {@code b}: SASL_SSL listener, StandardAuthorizer, the administrator a super user, every role's login. */
  public EmbeddedKafkaBroker.Builder secure(EmbeddedKafkaBroker.Builder b) {
    String admin = adminUser();
    b.secured(tls, admin, passwords.get(admin));
    passwords.forEach(b::scramUser);
    return b;
  }

  /** Writes each role's client file for {@code bootstrap}; returns user name -> file. */
  public Map<String, Path> writeClientFiles(String bootstrap) {
    Map<String, Path> files = new LinkedHashMap<>();
    passwords.forEach((user, password) -> {
      Properties p = EmbeddedKafkaBroker.scramClientProperties(tls, user, password);
      p.setProperty("bootstrap.servers", bootstrap);
      Path file = clientsDir.resolve(user + ".properties");
      try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
        p.store(w, "oppu broker --secured: the login of " + user + " (use with --kafka-config)");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      restrict(file);
      files.put(user, file);
    });
    return files;
  }

  /** The administrator's user name (a super user of the broker). */
  public String adminUser() {
    return userOf(Acls.Principals.defaults().of(Acls.Role.ADMIN));
  }

  private static String userOf(String principal) {
    return principal.substring(principal.indexOf(':') + 1);
  }

  private static String passwordIn(Properties client) {
    String password = ClientConfig.of(client).jaasOption("password");
    if (password == null) {
      throw new IllegalStateException("a client file without a password in its sasl.jaas.config");
    }
    return password;
  }

  private static String secret(SecureRandom random) {
    StringBuilder s = new StringBuilder(24);
    for (int i = 0; i < 24; i++) {
      s.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
    }
    return s.toString();
  }

  private static void writePrivate(Path file, String text) throws IOException {
    Files.writeString(file, text, StandardCharsets.UTF_8);
    restrict(file);
  }

  /** Owner-only where the file system has POSIX permissions (passwords live in these files). */
  private static void restrict(Path file) {
    try {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException | IOException e) {
      // Not a POSIX file system: the directory's own permissions protect it.
    }
  }
}
