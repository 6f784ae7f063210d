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
    assertArrayEquals(w, AdapterPayload.weights(e.inlineWeights(), null, e.sha256()));
  }

  @Test
  void weightsOverOneMegabyteGoToTheStoreAndAreVerified(@TempDir Path store) throws Exception {
    byte[] w = bytes(1_500_000);
    AdapterPayload.Encoded e = AdapterPayload.encode("{\"r\": 8}", w, AdapterPayload.DEFAULT_INLINE_LIMIT, store);
    assertNull(e.inlineWeights());
    Path file = Path.of(e.weightsPath());
    assertTrue(file.startsWith(store.toAbsolutePath().resolve(e.sha256())), "content-addressed: " + file);
    assertEquals("{\"r\": 8}", Files.readString(file.resolveSibling(AdapterPayload.CONFIG_FILE)));
    assertArrayEquals(w, AdapterPayload.weights(null, e.weightsPath(), e.sha256()));
    // the same content is stored once
    assertEquals(e.weightsPath(), AdapterPayload.encode("{\"r\": 8}", w, 1000, store).weightsPath());
    Files.write(file, bytes(10));
    assertThrows(IllegalStateException.class, () -> AdapterPayload.weights(null, e.weightsPath(), e.sha256()));
  }

  @Test
  void aTamperedInlinePayloadOrAForeignBaseIsRefused() {
    byte[] w = bytes(100);
    String sha = AdapterPayload.sha256(w);
    w[0] ^= 1;
    assertThrows(IllegalStateException.class, () -> AdapterPayload.weights(w, null, sha));
    assertThrows(IllegalStateException.class, () -> AdapterPayload.requireFingerprints("a", "t", "b", "t"));
    assertThrows(IllegalStateException.class, () -> AdapterPayload.requireFingerprints("a", "t", "a", "u"));
    AdapterPayload.requireFingerprints("a", "t", "a", "t");
    assertThrows(IllegalArgumentException.class, () -> AdapterPayload.encode("{}", bytes(2000), 1000, null));
  }
}
