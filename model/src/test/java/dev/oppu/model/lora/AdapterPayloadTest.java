package dev.oppu.model.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdapterPayloadTest {

  static byte[] bytes(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  @Test
  void smallWeightsTravelInline(@TempDir Path store) {
    byte[] w = bytes(1000);
    AdapterPayload.Encoded e = AdapterPayload.encode("{}", w, AdapterPayload.DEFAULT_INLINE_LIMIT, store);
    assertNotNull(e.inlineWeights());
    assertNull(e.weightsPath());
    assertArrayEquals(w, AdapterPayload.weights(e.inlineWeights(), null, e.sha256(), null));
  }

  @Test
  void weightsOverOneMegabyteGoToTheStoreAndAreVerified(@TempDir Path store) throws Exception {
    byte[] w = bytes(1_500_000);
    AdapterPayload.Encoded e = AdapterPayload.encode("{\"r\": 8}", w, AdapterPayload.DEFAULT_INLINE_LIMIT, store);
    assertNull(e.inlineWeights());
    Path file = Path.of(e.weightsPath());
    assertTrue(file.startsWith(store.toAbsolutePath().resolve(e.sha256())), "content-addressed: " + file);
    assertEquals("{\"r\": 8}", Files.readString(file.resolveSibling(AdapterPayload.CONFIG_FILE)));
    assertArrayEquals(w, AdapterPayload.weights((byte[]) null, e.weightsPath(), e.sha256(), store));
    // the same content is stored once
    assertEquals(e.weightsPath(), AdapterPayload.encode("{\"r\": 8}", w, 1000, store).weightsPath());
    Files.write(file, bytes(10));
    assertThrows(IllegalStateException.class, () -> AdapterPayload.weights((byte[]) null, e.weightsPath(), e.sha256(), store));
  }

  @Test
  void aTamperedInlinePayloadOrAForeignBaseIsRefused() {
    byte[] w = bytes(100);
    String sha = AdapterPayload.sha256(w);
    w[0] ^= 1;
    assertThrows(IllegalStateException.class, () -> AdapterPayload.weights(w, null, sha, null));
    assertThrows(IllegalStateException.class, () -> AdapterPayload.requireFingerprints("a", "t", "b", "t"));
    assertThrows(IllegalStateException.class, () -> AdapterPayload.requireFingerprints("a", "t", "a", "u"));
    AdapterPayload.requireFingerprints("a", "t", "a", "t");
    assertThrows(IllegalArgumentException.class, () -> AdapterPayload.encode("{}", bytes(2000), 1000, null));
  }

  @Test
  void aWeightsPathOutsideTheStoreIsNeverRead(@TempDir Path tmp) throws Exception {
    Path store = Files.createDirectories(tmp.resolve("store"));
    byte[] w = bytes(1_500_000);
    AdapterPayload.Encoded e = AdapterPayload.encode("{}", w, 1000, store);
    String sha = e.sha256();
    // a file outside the store whose SHA-256 the record states correctly: still refused, by its place alone
    Path outside = tmp.resolve("secret");
    Files.write(outside, w);
    String[] refused = {
        "/dev/zero",
        "/etc/passwd",
        outside.toString(),
        store.resolve(sha).resolve("..").resolve("..").resolve("secret").toString(),
        store.resolve(sha).resolve("adapter_config.json").toString(),
        tmp.resolve("store2").resolve(sha).resolve(AdapterPayload.WEIGHTS_FILE).toString(),
    };
    for (String path : refused) {
      var ex = assertThrows(AdapterPayload.RefusedPathException.class,
          () -> AdapterPayload.weights((byte[]) null, path, sha, store), path);
      assertTrue(ex.getMessage().contains("refused") || ex.getMessage().contains("outside"), ex.getMessage());
    }
    // the right place, but for another record's SHA-256
    byte[] other = bytes(1_600_000);
    AdapterPayload.Encoded o = AdapterPayload.encode("{}", other, 1000, store);
    assertThrows(AdapterPayload.RefusedPathException.class,
        () -> AdapterPayload.weights((byte[]) null, o.weightsPath(), sha, store));
    // no store configured: nothing by path
    assertThrows(AdapterPayload.RefusedPathException.class,
        () -> AdapterPayload.weights((byte[]) null, e.weightsPath(), sha, null));
    // a symbolic link planted in the store that leads out of it
    String fakeSha = AdapterPayload.sha256(bytes(7));
    Path linkDir = Files.createDirectories(store.resolve(fakeSha));
    Files.createSymbolicLink(linkDir.resolve(AdapterPayload.WEIGHTS_FILE), outside);
    var ex = assertThrows(AdapterPayload.RefusedPathException.class, () -> AdapterPayload.weights((byte[]) null,
        linkDir.resolve(AdapterPayload.WEIGHTS_FILE).toString(), fakeSha, store));
    assertTrue(ex.getMessage().contains("leads outside"), ex.getMessage());
    // and the legitimate path still reads, relative store given or not
    assertArrayEquals(w, AdapterPayload.weights((byte[]) null, e.weightsPath(), sha, store));
    assertArrayEquals(w, AdapterPayload.weights((byte[]) null, e.weightsPath(), sha.toUpperCase(), store));
  }
}
