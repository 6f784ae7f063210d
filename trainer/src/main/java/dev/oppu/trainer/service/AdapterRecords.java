package dev.oppu.trainer.service;

import ai.djl.ndarray.NDManager;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/** AdapterVersion records to and from loadable adapters: the Avro side of {@link AdapterPayload}. */
public final class AdapterRecords {
  private AdapterRecords() {}

  /** Puts the adapter's PEFT files into the builder: inline below {@code inlineLimit}, else via the store. */
  public static AdapterVersion.Builder withPayload(AdapterVersion.Builder b, LoraAdapter adapter, int inlineLimit,
      Path store) throws IOException {
    AdapterPayload.Encoded e = AdapterPayload.encode(new String(adapter.configJson(),
        java.nio.charset.StandardCharsets.UTF_8), adapter.weightsBytes(), inlineLimit, store);
    return b.setAdapterConfig(e.adapterConfig())
        .setWeights(e.inlineWeights() == null ? null : ByteBuffer.wrap(e.inlineWeights()))
        .setWeightsPath(e.weightsPath())
        .setWeightsSha256(e.sha256());
  }

  /**
   * The verified safetensors bytes of a record (SHA-256 checked, inline or from the store; a path outside
   * {@code store} is refused with {@link AdapterPayload.RefusedPathException}).
   */
  public static byte[] weights(AdapterVersion v, Path store) {
    return AdapterPayload.weights(v.getWeights(), v.getWeightsPath(), v.getWeightsSha256(), store);
  }

  /**
   * Loads a record's adapter after checking it was trained on this base and task adapter.
   *
   * @param store   the adapter store, the only place a referenced adapter is read from
   * @param scratch a directory to unpack the PEFT files into
   */
  public static LoraAdapter load(AdapterVersion v, String baseFingerprint, String taskFingerprint, LlamaConfig config,
      NDManager manager, Path store, Path scratch) throws IOException {
    AdapterPayload.requireFingerprints(baseFingerprint, taskFingerprint, v.getBaseFingerprint(),
        v.getTaskFingerprint());
    Path dir = Files.createTempDirectory(scratch, "adapter");
    try {
      AdapterPayload.writePeftDirectory(dir, v.getAdapterConfig(), weights(v, store));
      return LoraAdapter.loadPeft(dir, config, manager);
    } finally {
      try (var files = Files.list(dir)) {
        for (Path f : files.toList()) {
          Files.deleteIfExists(f);
        }
      }
      Files.deleteIfExists(dir);
    }
  }
}
