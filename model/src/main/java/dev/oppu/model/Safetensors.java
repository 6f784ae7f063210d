package dev.oppu.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * The safetensors format (8-byte little-endian header length, a JSON header, raw little-endian data). Floating-point
 * tensors (F32, F16, BF16, F64) are converted to float32 as they are read, integer tensors (I64, I32) keep their type:
 * real checkpoints ship in bf16, and DJL's PyTorch engine aborts on bf16 arithmetic.
 */
public final class Safetensors {

  private static final ObjectMapper JSON = new ObjectMapper();
  static final String INDEX_FILE = "model.safetensors.index.json";
  static final String SINGLE_FILE = "model.safetensors";

  private Safetensors() {
  }

  /** Reads every tensor of one file into {@code manager}, in header order. */
  public static Map<String, NDArray> read(Path file, NDManager manager) throws IOException {
    return read(file, manager, name -> true);
  }

  /**
   * Reads the tensors of one file that {@code wanted} accepts, in header order, each straight into its own float32
   * (or integer) buffer: the file is read through a small staging buffer, never mapped, so reading a checkpoint
   * holds the converted weights plus at most {@value #STAGING_BYTES} bytes.
   */
  public static Map<String, NDArray> read(Path file, NDManager manager, Predicate<String> wanted) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "safetensors file not found");
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      Header header = header(ch, file);
      JsonNode root = header.root();
      long dataStart = header.dataStart();
      Map<String, NDArray> out = new LinkedHashMap<>();
      ByteBuffer staging = ByteBuffer.allocate(STAGING_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      try {
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> e = it.next();
          if (e.getKey().equals("__metadata__") || !wanted.test(e.getKey())) {
            continue;
          }
          JsonNode info = e.getValue();
          long begin = info.get("data_offsets").get(0).asLong();
          long end = info.get("data_offsets").get(1).asLong();
          if (dataStart + end > ch.size() || end < begin) {
            throw new IOException(file + ": tensor " + e.getKey() + " lies outside the file");
          }
          out.put(e.getKey(), readTensor(ch, dataStart + begin, end - begin, e.getKey(), info, staging, manager));
        }
      } catch (IOException | RuntimeException ex) {
        out.values().forEach(NDArray::close);
        throw ex;
      }
      return out;
    }
  }

  /** Bytes read from a file at a time when converting a tensor. */
  static final int STAGING_BYTES = 1 << 20;

  private static NDArray readTensor(FileChannel ch, long pos, long bytes, String name, JsonNode info,
      ByteBuffer staging, NDManager manager) throws IOException {
    String dtype = info.get("dtype").asText();
    Shape shape = shape(info);
    int width = width(name, dtype);
    if (bytes != shape.size() * width) {
      throw new IOException("tensor " + name + ": " + bytes + " bytes for shape " + shape + " " + dtype);
    }
    DataType type = switch (dtype) {
      case "I64" -> DataType.INT64;
      case "I32" -> DataType.INT32;
      case "F32", "F16", "BF16", "F64" -> DataType.FLOAT32;
      default -> throw new IOException("tensor " + name + ": dtype " + dtype + " is not a weight type");
    };
    // The destination is the tensor's own memory (DJL wraps a direct buffer without copying).
    ByteBuffer dest = ByteBuffer.allocateDirect(Math.toIntExact(shape.size() * type.getNumOfBytes()))
        .order(ByteOrder.nativeOrder());
    if (width == type.getNumOfBytes()) {
      readFully(ch, dest, pos); // F32, I64, I32: the bytes as they are (little-endian on x86 and arm64)
    } else {
      long done = 0;
      int step = STAGING_BYTES / width * width;
      while (done < bytes) {
        staging.clear().limit((int) Math.min(step, bytes - done));
        readFully(ch, staging, pos + done);
        done += staging.limit();
        staging.flip();
        convert(staging, dtype, dest);
      }
    }
    dest.flip();
    return manager.create(dest, shape, type);
  }

  /** Reads tensors from an in-memory safetensors file. */
  public static Map<String, NDArray> read(byte[] bytes, NDManager manager) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (bytes.length < 8) {
      throw new IOException("not a safetensors payload: " + bytes.length + " bytes");
    }
    long headerLen = buf.getLong(0);
    if (headerLen <= 0 || 8 + headerLen > bytes.length) {
      throw new IOException("not a safetensors payload (header length " + headerLen + ")");
    }
    JsonNode root = JSON.readTree(bytes, 8, (int) headerLen);
    int dataStart = 8 + (int) headerLen;
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals("__metadata__")) {
        continue;
      }
      JsonNode info = e.getValue();
      int begin = info.get("data_offsets").get(0).asInt();
      int end = info.get("data_offsets").get(1).asInt();
      if (dataStart + (long) end > bytes.length || end < begin) {
        throw new IOException("tensor " + e.getKey() + " lies outside the payload");
      }
      ByteBuffer raw = ByteBuffer.allocateDirect(end - begin);
      raw.put(bytes, dataStart + begin, end - begin).flip();
      out.put(e.getKey(), toArray(e.getKey(), info, raw, manager));
    }
    return out;
  }

  /**
   * Reads a checkpoint directory: {@code model.safetensors}, or the shards named in
   * {@code model.safetensors.index.json}.
   */
  public static Map<String, NDArray> readCheckpoint(Path dir, NDManager manager) throws IOException {
    return readCheckpoint(dir, manager, name -> true);
  }

  /** As {@link #readCheckpoint(Path, NDManager)}, reading only the tensors {@code wanted} accepts. */
  public static Map<String, NDArray> readCheckpoint(Path dir, NDManager manager, Predicate<String> wanted)
      throws IOException {
    Path index = dir.resolve(INDEX_FILE);
    Path single = dir.resolve(SINGLE_FILE);
    if (Files.isRegularFile(index)) {
      JsonNode map = JSON.readTree(index.toFile()).get("weight_map");
      if (map == null) {
        throw new IOException(index + ": no weight_map");
      }
      List<String> shards = new ArrayList<>();
      map.fields().forEachRemaining(e -> {
        if (!shards.contains(e.getValue().asText())) {
          shards.add(e.getValue().asText());
        }
      });
      Map<String, NDArray> out = new LinkedHashMap<>();
      try {
        for (String shard : shards) {
          out.putAll(read(dir.resolve(shard), manager, wanted)); // one shard's tensors at a time
        }
      } catch (IOException | RuntimeException ex) {
        out.values().forEach(NDArray::close);
        throw ex;
      }
      return out;
    }
    if (Files.isRegularFile(single)) {
      return read(single, manager, wanted);
    }
    throw new NoSuchFileException(dir.toString(), null,
        "no " + SINGLE_FILE + " or " + INDEX_FILE + " in the checkpoint directory");
  }

  /** Names of the tensors a checkpoint directory holds, read from the headers only. */
  public static List<String> tensorNames(Path dir) throws IOException {
    Path index = dir.resolve(INDEX_FILE);
    List<Path> files = new ArrayList<>();
    if (Files.isRegularFile(index)) {
      JsonNode map = JSON.readTree(index.toFile()).get("weight_map");
      if (map == null) {
        throw new IOException(index + ": no weight_map");
      }
      map.fields().forEachRemaining(e -> {
        if (!files.contains(dir.resolve(e.getValue().asText()))) {
          files.add(dir.resolve(e.getValue().asText()));
        }
      });
    } else if (Files.isRegularFile(dir.resolve(SINGLE_FILE))) {
      files.add(dir.resolve(SINGLE_FILE));
    } else {
      throw new NoSuchFileException(dir.toString(), null,
          "no " + SINGLE_FILE + " or " + INDEX_FILE + " in the checkpoint directory");
    }
    List<String> names = new ArrayList<>();
    for (Path f : files) {
      if (!Files.isRegularFile(f)) {
        throw new NoSuchFileException(f.toString(), null, "safetensors file not found");
      }
      try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
        header(ch, f).root().fieldNames().forEachRemaining(k -> {
          if (!k.equals("__metadata__")) {
            names.add(k);
          }
        });
      }
    }
    return names;
  }

  /**
   * Writes a checkpoint: one {@code model.safetensors}, or (above {@code maxShardBytes}) shards named
   * {@code model-00001-of-0000N.safetensors} plus {@code model.safetensors.index.json}, as transformers does.
   */
  public static void writeCheckpoint(Path dir, Map<String, NDArray> tensors, long maxShardBytes) throws IOException {
    Files.createDirectories(dir);
    List<Map<String, NDArray>> shards = new ArrayList<>();
    Map<String, NDArray> current = new LinkedHashMap<>();
    long currentBytes = 0;
    long total = 0;
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      long size = e.getValue().size() * e.getValue().getDataType().getNumOfBytes();
      if (!current.isEmpty() && currentBytes + size > maxShardBytes) {
        shards.add(current);
        current = new LinkedHashMap<>();
        currentBytes = 0;
      }
      current.put(e.getKey(), e.getValue());
      currentBytes += size;
      total += size;
    }
    shards.add(current);
    Files.deleteIfExists(dir.resolve(SINGLE_FILE));
    Files.deleteIfExists(dir.resolve(INDEX_FILE));
    if (shards.size() == 1) {
      write(dir.resolve(SINGLE_FILE), current, Map.of("format", "pt"));
      return;
    }
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", total);
    ObjectNode map = index.putObject("weight_map");
    for (int i = 0; i < shards.size(); i++) {
      String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      write(dir.resolve(name), shards.get(i), Map.of("format", "pt"));
      new TreeMap<>(shards.get(i)).keySet().forEach(k -> map.put(k, name));
    }
    JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve(INDEX_FILE).toFile(), index);
  }

  /** Writes float32/int64/int32 tensors as safetensors with the given metadata (e.g. {@code format=pt}). */
  public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
      throws IOException {
    try (OutputStream out = Files.newOutputStream(file)) {
      write(out, tensors, metadata);
    }
  }

  /** The safetensors encoding of {@code tensors} as bytes. */
  public static byte[] toBytes(Map<String, NDArray> tensors, Map<String, String> metadata) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      write(out, tensors, metadata);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }

  private static void write(OutputStream out, Map<String, NDArray> tensors, Map<String, String> metadata)
      throws IOException {
    // Same order as the Python library: larger element size first, then by name.
    List<String> names = new ArrayList<>(new TreeMap<>(tensors).keySet());
    names.sort(Comparator.comparingInt((String n) -> -tensors.get(n).getDataType().getNumOfBytes()));
    ObjectNode header = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode meta = header.putObject("__metadata__");
      new TreeMap<>(metadata).forEach(meta::put);
    }
    long offset = 0;
    for (String name : names) {
      NDArray a = tensors.get(name);
      ObjectNode info = header.putObject(name);
      info.put("dtype", dtypeName(a.getDataType()));
      ArrayNode shape = info.putArray("shape");
      for (long d : a.getShape().getShape()) {
        shape.add(d);
      }
      long size = a.size() * a.getDataType().getNumOfBytes();
      info.putArray("data_offsets").add(offset).add(offset + size);
      offset += size;
    }
    byte[] h = JSON.writeValueAsBytes(header);
    int padded = (h.length + 7) / 8 * 8;
    ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
    out.write(len.array());
    out.write(h);
    for (int i = h.length; i < padded; i++) {
      out.write(' ');
    }
    for (String name : names) {
      ByteBuffer data = tensors.get(name).toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      byte[] chunk = new byte[Math.min(1 << 20, Math.max(1, data.remaining()))];
      while (data.hasRemaining()) {
        int n = Math.min(chunk.length, data.remaining());
        data.get(chunk, 0, n);
        out.write(chunk, 0, n);
      }
    }
  }

  private static String dtypeName(DataType t) {
    switch (t) {
      case FLOAT32: return "F32";
      case INT64: return "I64";
      case INT32: return "I32";
      default: throw new IllegalArgumentException("cannot write " + t + " tensors (float32, int64, int32 only)");
    }
  }

  private static NDArray toArray(String name, JsonNode info, ByteBuffer raw, NDManager manager) throws IOException {
    String dtype = info.get("dtype").asText();
    Shape shape = shape(info);
    raw.order(ByteOrder.LITTLE_ENDIAN);
    int width = width(name, dtype);
    if (raw.remaining() != shape.size() * width) {
      throw new IOException("tensor " + name + ": " + raw.remaining() + " bytes for shape " + shape + " " + dtype);
    }
    switch (dtype) {
      case "F32":
        return manager.create(direct(raw), shape, DataType.FLOAT32);
      case "I64":
        return manager.create(direct(raw), shape, DataType.INT64);
      case "I32":
        return manager.create(direct(raw), shape, DataType.INT32);
      case "BF16", "F16", "F64": {
        ByteBuffer f = ByteBuffer.allocateDirect((int) (shape.size() * 4)).order(ByteOrder.nativeOrder());
        convert(raw, dtype, f);
        f.flip();
        return manager.create(f, shape, DataType.FLOAT32);
      }
      default:
        throw new IOException("tensor " + name + ": dtype " + dtype + " is not a weight type");
    }
  }

  private static Shape shape(JsonNode info) {
    long[] dims = new long[info.get("shape").size()];
    for (int i = 0; i < dims.length; i++) {
      dims[i] = info.get("shape").get(i).asLong();
    }
    return new Shape(dims);
  }

  private static int width(String name, String dtype) throws IOException {
    return switch (dtype) {
      case "F64", "I64" -> 8;
      case "F32", "I32" -> 4;
      case "F16", "BF16", "I16" -> 2;
      case "U8", "I8", "BOOL" -> 1;
      default -> throw new IOException("tensor " + name + ": unsupported dtype " + dtype);
    };
  }

  /** Converts the little-endian BF16/F16/F64 values left in {@code raw} to float32, appended to {@code dest}. */
  private static void convert(ByteBuffer raw, String dtype, ByteBuffer dest) {
    raw.order(ByteOrder.LITTLE_ENDIAN);
    switch (dtype) {
      case "BF16" -> {
        while (raw.hasRemaining()) {
          dest.putFloat(Float.intBitsToFloat((raw.getShort() & 0xffff) << 16)); // bf16 = the float's top half
        }
      }
      case "F16" -> {
        while (raw.hasRemaining()) {
          dest.putFloat(halfToFloat(raw.getShort()));
        }
      }
      default -> {
        while (raw.hasRemaining()) {
          dest.putFloat((float) raw.getDouble());
        }
      }
    }
  }

  // Always a private copy: a file mapping is read-only (merging writes into weights) and may be unmapped.
  private static ByteBuffer direct(ByteBuffer raw) {
    ByteBuffer d = ByteBuffer.allocateDirect(raw.remaining()).order(ByteOrder.nativeOrder());
    d.put(raw).flip();
    return d;
  }

  /** IEEE 754 half precision to float (Float.float16ToFloat arrives only in Java 20). */
  static float halfToFloat(short bits) {
    int h = bits & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1f;
    int mant = h & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      if (mant == 0) {
        return Float.intBitsToFloat(sign);
      }
      float v = mant / 1024f / 16384f; // subnormal: mant * 2^-24
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /** A file's JSON header and where its data begins. */
  private record Header(JsonNode root, long dataStart) {
  }

  private static Header header(FileChannel ch, Path file) throws IOException {
    ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, len, 0);
    long headerLen = len.getLong(0);
    if (headerLen <= 0 || headerLen > 100_000_000L || 8 + headerLen > ch.size()) {
      throw new IOException(file + ": not a safetensors file (header length " + headerLen + ")");
    }
    ByteBuffer header = ByteBuffer.allocate((int) headerLen);
    readFully(ch, header, 8);
    return new Header(JSON.readTree(header.array()), 8 + headerLen);
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new IOException("unexpected end of file");
      }
      pos += n;
    }
  }
}
