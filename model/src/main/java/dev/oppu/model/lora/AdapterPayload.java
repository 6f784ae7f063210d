package dev.oppu.model.lora;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * How a PEFT adapter travels in an adapter-version record: its {@code adapter_model.safetensors} bytes inline when
 * they fit a Kafka record, otherwise in a content-addressed store directory shared by trainer and serving (the record
 * then carries the path and the SHA-256). The reader verifies the SHA-256 either way and checks the base-model and
 * task-adapter fingerprints, so an adapter is never combined with a base it was not trained on (SPEC section 6).
 * Plain bytes and paths only: the Avro mapping lives with the producer and the consumers.
 */
public final class AdapterPayload {

  /** Kafka's default maximum record size is 1 MB: keep inline payloads well under it (the record has other fields). */
  public static final int DEFAULT_INLINE_LIMIT = 900 * 1024;
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";
  public static final String CONFIG_FILE = "adapter_config.json";

  /**
   * An encoded adapter: exactly one of {@code inlineWeights} and {@code weightsPath} is set.
   *
   * @param weightsPath absolute path of the stored {@code adapter_model.safetensors}
   */
  public record Encoded(String adapterConfig, byte[] inlineWeights, String weightsPath, String sha256) {}

  private AdapterPayload() {}

  /** Inline if {@code weights.length <= inlineLimit}, else written once to {@code store/<sha256>/} and referenced. */
  public static Encoded encode(String adapterConfig, byte[] weights, int inlineLimit, Path store) {
    String sha = sha256(weights);
    if (weights.length <= inlineLimit) {
      return new Encoded(adapterConfig, weights, null, sha);
    }
    if (store == null) {
      throw new IllegalArgumentException("adapter of " + weights.length + " bytes exceeds the inline limit of "
          + inlineLimit + " and no adapter store directory is configured");
    }
    try {
      Path dir = store.toAbsolutePath().resolve(sha);
      Path file = dir.resolve(WEIGHTS_FILE);
      if (!Files.exists(file) || !sha.equals(sha256(Files.readAllBytes(file)))) {
        Files.createDirectories(dir);
        writeAtomically(dir.resolve(CONFIG_FILE), adapterConfig.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        writeAtomically(file, weights);
      }
      return new Encoded(adapterConfig, null, file.toString(), sha);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write adapter to store " + store, e);
    }
  }

  /**
   * The verified {@code adapter_model.safetensors} bytes of an encoded adapter. A referenced file is read only where
   * {@link #encode} would have put it ({@link #storedFile}): whoever can write the adapters topic must not be able to
   * make a reader open any other file.
   *
   * @param store the adapter store directory; null refuses every adapter that is not inline
   */
  public static byte[] weights(byte[] inlineWeights, String weightsPath, String sha256, Path store) {
    byte[] bytes;
    if (inlineWeights != null) {
      bytes = inlineWeights;
    } else if (weightsPath != null) {
      Path file = storedFile(store, weightsPath, sha256);
      try {
        bytes = Files.readAllBytes(file);
      } catch (IOException e) {
        throw new UncheckedIOException("adapter weights not readable at " + weightsPath, e);
      }
    } else {
      throw new IllegalArgumentException("adapter record carries neither weights nor a weights path");
    }
    String actual = sha256(bytes);
    if (!actual.equalsIgnoreCase(sha256)) {
      throw new IllegalStateException("adapter weights SHA-256 mismatch: expected " + sha256 + ", got " + actual
          + (weightsPath != null ? " (" + weightsPath + ")" : ""));
    }
    return bytes;
  }

  /** {@link #weights(byte[], String, String, Path)} for a record's inline weights as Avro hands them over. */
  public static byte[] weights(java.nio.ByteBuffer inlineWeights, String weightsPath, String sha256, Path store) {
    byte[] inline = null;
    if (inlineWeights != null) {
      java.nio.ByteBuffer b = inlineWeights.duplicate();
      inline = new byte[b.remaining()];
      b.get(inline);
    }
    return weights(inline, weightsPath, sha256, store);
  }

  /**
   * The file a weights path names, if it is exactly {@code store/<sha256>/adapter_model.safetensors} for the record's
   * own SHA-256, also once symbolic links are resolved, and a regular file of at most {@link #MAX_STORED_BYTES};
   * otherwise {@link RefusedPathException} with the reason. Does not read the file.
   */
  public static Path storedFile(Path store, String weightsPath, String sha256) {
    if (store == null) {
      throw new RefusedPathException("adapter weights path " + weightsPath + " refused: no adapter store is configured");
    }
    if (sha256 == null || !SHA256_HEX.matcher(sha256).matches()) {
      throw new RefusedPathException("adapter weights path " + weightsPath + " refused: SHA-256 '" + sha256
          + "' is not 64 hex digits");
    }
    Path root = store.toAbsolutePath().normalize();
    Path expected = root.resolve(sha256.toLowerCase(java.util.Locale.ROOT)).resolve(WEIGHTS_FILE);
    Path given;
    try {
      given = Path.of(weightsPath).toAbsolutePath().normalize();
    } catch (java.nio.file.InvalidPathException e) {
      throw new RefusedPathException("adapter weights path refused: not a path (" + e.getMessage() + ")");
    }
    if (!given.equals(expected)) {
      throw new RefusedPathException("adapter weights path " + weightsPath + " is outside the adapter store "
          + root + " (expected " + expected + ")");
    }
    try {
      Path real = given.toRealPath();
      if (!real.startsWith(root.toRealPath())) {
        throw new RefusedPathException("adapter weights path " + weightsPath + " leads outside the adapter store "
            + root + " (to " + real + ")");
      }
      if (!Files.isRegularFile(real)) {
        throw new RefusedPathException("adapter weights path " + weightsPath + " is not a regular file");
      }
      long size = Files.size(real);
      if (size > MAX_STORED_BYTES) {
        throw new RefusedPathException("adapter weights at " + weightsPath + " are " + size + " bytes, over "
            + MAX_STORED_BYTES);
      }
      return real;
    } catch (IOException e) {
      throw new UncheckedIOException("adapter weights not readable at " + weightsPath, e);
    }
  }

  /** A weights path that does not name a file of the adapter store. */
  public static final class RefusedPathException extends IllegalArgumentException {
    public RefusedPathException(String message) {
      super(message);
    }
  }

  /** Largest stored adapter read (a Java array's limit; a 7B model's LoRA is ~17 MB). */
  public static final long MAX_STORED_BYTES = Integer.MAX_VALUE - 8;
  private static final java.util.regex.Pattern SHA256_HEX = java.util.regex.Pattern.compile("[0-9a-fA-F]{64}");

  /** Throws unless the adapter was trained on this base model and task adapter. */
  public static void requireFingerprints(String expectedBase, String expectedTask, String adapterBase,
      String adapterTask) {
    if (!expectedBase.equals(adapterBase)) {
      throw new IllegalStateException("adapter was trained on base model " + adapterBase + ", not " + expectedBase);
    }
    if (!expectedTask.equals(adapterTask)) {
      throw new IllegalStateException("adapter was trained on task adapter " + adapterTask + ", not " + expectedTask);
    }
  }

  /** Writes {@code adapter_config.json} and {@code adapter_model.safetensors} into {@code dir} (PEFT's layout). */
  public static void writePeftDirectory(Path dir, String adapterConfig, byte[] weights) throws IOException {
    Files.createDirectories(dir);
    writeAtomically(dir.resolve(CONFIG_FILE), adapterConfig.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    writeAtomically(dir.resolve(WEIGHTS_FILE), weights);
  }

  /**
   * Deletes a stored adapter ({@code store/<sha256>/}: weights and config) when {@code weightsPath} lies in
   * {@code store}; a path elsewhere is left alone (it is not ours to delete). Returns whether files were deleted.
   */
  public static boolean deleteStored(Path store, String weightsPath) throws IOException {
    if (store == null || weightsPath == null) {
      return false;
    }
    Path root = store.toAbsolutePath().normalize();
    Path dir = Path.of(weightsPath).toAbsolutePath().normalize().getParent();
    if (dir == null || !root.equals(dir.getParent())) {
      return false;
    }
    boolean any = false;
    if (Files.isDirectory(dir)) {
      try (var files = Files.list(dir)) {
        for (Path f : files.toList()) {
          any |= Files.deleteIfExists(f);
        }
      }
      any |= Files.deleteIfExists(dir);
    }
    return any;
  }

  /** Fingerprint of no task adapter (the bare base model serves the task). */
  public static final String NO_TASK_ADAPTER = "none";

  /**
   * The task-adapter fingerprint user adapters record: the SHA-256 of its {@code adapter_model.safetensors} bytes, or
   * {@link #NO_TASK_ADAPTER}.
   */
  public static String taskFingerprint(byte[] taskAdapterWeights) {
    return taskAdapterWeights == null ? NO_TASK_ADAPTER : sha256(taskAdapterWeights);
  }

  public static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void writeAtomically(Path target, byte[] bytes) throws IOException {
    Path tmp = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".tmp");
    Files.write(tmp, bytes);
    try {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
