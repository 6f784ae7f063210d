package dev.oppu.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.LongConsumer;

/**
 * A random bf16 checkpoint of any {@link LlamaConfig}, laid out as transformers' {@code save_pretrained} writes one:
 * {@code config.json} (torch_dtype bfloat16), {@code generation_config.json}, and shards
 * {@code model-00001-of-0000N.safetensors} with {@code model.safetensors.index.json} ({@code metadata.total_size}, a
 * sorted {@code weight_map}); a new shard starts where the next tensor would pass the size limit, a larger tensor
 * gets one of its own; inside a shard, tensors sorted by name, {@code __metadata__ {"format": "pt"}}, the header
 * padded to 8 bytes. Everything within the limit: one {@code model.safetensors}, no index. A tied head is not written.
 *
 * <p>Element {@code i} of tensor {@code name} is the {@code i}-th draw of {@link #values(String)} (normal(0, 0.05),
 * truncated to bf16), so a reader can check every value it loaded without keeping a copy. Written through a 64 KiB
 * buffer: writing adds almost nothing to the resident memory, so a load measured right after sees its own peak.
 */
public final class RandomCheckpoint {

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final ObjectMapper COMPACT = new ObjectMapper();

  /** Standard deviation of the values before truncation to bf16. */
  public static final double STD = 0.05;

  private RandomCheckpoint() {
  }

  /** What was written: the shard files in order, their total size in bytes, and the number of values. */
  public record Written(List<Path> shards, long bytes, long parameters) {
  }

  /** The draws of one tensor's values, in element order; each {@link #nextBf16} is the next element. */
  public static SplittableRandom values(String tensorName) {
    return new SplittableRandom(tensorName.hashCode());
  }

  /** The next value, as bf16 bits: a normal(0, {@value #STD}) float32 truncated to its top half. */
  public static short nextBf16(SplittableRandom values) {
    return (short) (Float.floatToIntBits((float) (values.nextGaussian() * STD)) >>> 16);
  }

  /** A bf16 value as the float32 a reader must produce. */
  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /** Bytes of the bf16 weights of {@code config} (what the shards hold, headers aside). */
  public static long bf16Bytes(LlamaConfig config) {
    return config.parameterCount() * 2;
  }

  /**
   * Writes {@code config}'s random bf16 weights into {@code dir} in shards of at most {@code maxShardBytes} (an
   * over-sized tensor alone), plus config, generation config and index; replaces checkpoint files already there.
   *
   * @param progress told the number of weight bytes written so far, now and then; may be null
   */
  public static Written writeBf16(LlamaConfig config, Path dir, long maxShardBytes, LongConsumer progress)
      throws IOException {
    if (maxShardBytes <= 0) {
      throw new IllegalArgumentException("shard size must be positive, got " + maxShardBytes);
    }
    Files.createDirectories(dir);
    config.save(dir);
    ObjectNode cfg = (ObjectNode) JSON.readTree(dir.resolve(LlamaConfig.FILE).toFile());
    cfg.put("dtype", "bfloat16");
    cfg.put("torch_dtype", "bfloat16");
    JSON.writeValue(dir.resolve(LlamaConfig.FILE).toFile(), cfg);
    LlamaModel.writeGenerationConfig(dir, config);

    // split in state-dict order, as huggingface_hub's split_torch_state_dict_into_shards does
    Map<String, long[]> shapes = config.weightShapes();
    List<List<String>> shards = new ArrayList<>();
    List<String> current = new ArrayList<>();
    long currentBytes = 0;
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      long size = count(e.getValue()) * 2;
      if (!current.isEmpty() && currentBytes + size > maxShardBytes) {
        shards.add(current);
        current = new ArrayList<>();
        currentBytes = 0;
      }
      current.add(e.getKey());
      currentBytes += size;
    }
    shards.add(current);
    try (var old = Files.list(dir)) { // shards of an earlier, differently split checkpoint would be read as extra
      for (Path p : old.toList()) {
        String n = p.getFileName().toString();
        if (n.endsWith(".safetensors")) {
          Files.delete(p);
        }
      }
    }
    Files.deleteIfExists(dir.resolve(Safetensors.INDEX_FILE));

    TreeMap<String, String> weightMap = new TreeMap<>();
    List<Path> files = new ArrayList<>();
    long total = 0;
    long[] written = {0};
    for (int s = 0; s < shards.size(); s++) {
      String file = shards.size() == 1 ? Safetensors.SINGLE_FILE
          : String.format("model-%05d-of-%05d.safetensors", s + 1, shards.size());
      List<String> names = new ArrayList<>(shards.get(s));
      names.sort(null); // safetensors' save_file: by dtype width (all bf16 here), then by name
      ObjectNode header = COMPACT.createObjectNode();
      header.putObject("__metadata__").put("format", "pt");
      long offset = 0;
      for (String name : names) {
        ObjectNode info = header.putObject(name);
        info.put("dtype", "BF16");
        var shape = info.putArray("shape");
        for (long d : shapes.get(name)) {
          shape.add(d);
        }
        long size = count(shapes.get(name)) * 2;
        info.putArray("data_offsets").add(offset).add(offset + size);
        offset += size;
        weightMap.put(name, file);
      }
      byte[] h = COMPACT.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
      int padded = (h.length + 7) / 8 * 8;
      Path path = dir.resolve(file);
      try (OutputStream out = Files.newOutputStream(path)) {
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded).array());
        out.write(h);
        for (int i = h.length; i < padded; i++) {
          out.write(' ');
        }
        ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN); // little garbage: RSS stays put
        for (String name : names) {
          SplittableRandom rnd = values(name);
          for (long i = count(shapes.get(name)); i > 0; i--) {
            b.putShort(nextBf16(rnd));
            if (!b.hasRemaining() || i == 1) {
              out.write(b.array(), 0, b.position());
              written[0] += b.position();
              b.clear();
              if (progress != null) {
                progress.accept(written[0]);
              }
            }
          }
        }
      }
      files.add(path);
      total += offset;
    }
    if (files.size() == 1) {
      return new Written(List.copyOf(files), total, config.parameterCount()); // one file, no index
    }
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", total);
    ObjectNode map = index.putObject("weight_map");
    weightMap.forEach(map::put);
    JSON.writeValue(dir.resolve(Safetensors.INDEX_FILE).toFile(), index);
    return new Written(List.copyOf(files), total, config.parameterCount());
  }

  static long count(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }
}
