package dev.oppu.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * One LoRA adapter: for each adapted projection W [out, in], A [r, in] and B [out, r], so that the layer computes
 * W x + scaling * B A x. Stored in PEFT's format ({@code adapter_config.json} + {@code adapter_model.safetensors},
 * keys {@code base_model.model.<module>.lora_A.weight}), so an adapter moves to and from PEFT unchanged.
 *
 * <p>The tensors are plain float32 arrays owned by this adapter's manager; a trainer updates them in place.
 */
public final class LoraAdapter implements AutoCloseable {

  public static final String CONFIG_FILE = "adapter_config.json";
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";
  private static final String PEFT_PREFIX = "base_model.model.";
  // PEFT saves without the adapter name; older files or in-memory state dicts carry ".default".
  private static final Pattern KEY = Pattern.compile(
      "base_model\\.model\\.(model\\.layers\\.(\\d+)\\.(?:self_attn|mlp)\\.(\\w+))\\.lora_([AB])(?:\\.\\w+)?\\.weight");
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final LoraConfig config;
  private final NDManager manager;
  // module path (model.layers.0.self_attn.q_proj) -> {A, B}
  private final Map<String, NDArray[]> modules;
  private final String baseModelName;

  private LoraAdapter(LoraConfig config, NDManager manager, Map<String, NDArray[]> modules, String baseModelName) {
    this.config = config;
    this.manager = manager;
    this.modules = modules;
    this.baseModelName = baseModelName;
  }

  /**
   * A fresh adapter as PEFT initializes one: A ~ kaiming-uniform(a = sqrt 5), i.e. U(-1/sqrt(in), 1/sqrt(in)),
   * B = 0, so the adapter starts as the identity. Deterministic by {@code seed}.
   */
  public static LoraAdapter create(LlamaConfig model, LoraConfig config, long seed, NDManager parent) {
    NDManager m = parent.newSubManager();
    Random rnd = new Random(seed);
    Map<String, NDArray[]> modules = new TreeMap<>(LoraAdapter::compareModules);
    for (int l = 0; l < model.numLayers(); l++) {
      for (String mod : config.targetModules()) {
        int[] io = model.projectionShape(mod);
        float bound = (float) (1.0 / Math.sqrt(io[0]));
        float[] a = new float[config.r() * io[0]];
        for (int i = 0; i < a.length; i++) {
          a[i] = (rnd.nextFloat() * 2 - 1) * bound;
        }
        NDArray aa = m.create(a, new Shape(config.r(), io[0]));
        NDArray bb = m.zeros(new Shape(io[1], config.r()), DataType.FLOAT32);
        modules.put(LoraConfig.modulePath(l, mod), new NDArray[] {aa, bb});
      }
    }
    return new LoraAdapter(config, m, modules, null);
  }

  public LoraConfig config() {
    return config;
  }

  public double scaling() {
    return config.scaling();
  }

  /** Module paths this adapter changes, e.g. model.layers.0.self_attn.q_proj, in layer order. */
  public List<String> modulePaths() {
    return new ArrayList<>(modules.keySet());
  }

  /** A [r, in] of a module, or null. */
  public NDArray a(String modulePath) {
    NDArray[] p = modules.get(modulePath);
    return p == null ? null : p[0];
  }

  /** B [out, r] of a module, or null. */
  public NDArray b(String modulePath) {
    NDArray[] p = modules.get(modulePath);
    return p == null ? null : p[1];
  }

  /** The trainable tensors by PEFT key (base_model.model.&lt;module&gt;.lora_A.weight); live, not copies. */
  public Map<String, NDArray> parameters() {
    Map<String, NDArray> out = new LinkedHashMap<>();
    modules.forEach((path, ab) -> {
      out.put(PEFT_PREFIX + path + ".lora_A.weight", ab[0]);
      out.put(PEFT_PREFIX + path + ".lora_B.weight", ab[1]);
    });
    return Collections.unmodifiableMap(out);
  }

  /** Number of trainable values. */
  public long parameterCount() {
    return modules.values().stream().mapToLong(ab -> ab[0].size() + ab[1].size()).sum();
  }

  /** A deep copy owned by a sub-manager of {@code parent}. */
  public LoraAdapter copy(NDManager parent) {
    NDManager m = parent.newSubManager();
    Map<String, NDArray[]> copy = new TreeMap<>(LoraAdapter::compareModules);
    modules.forEach((k, ab) -> {
      NDArray a = m.create(ab[0].toFloatArray(), ab[0].getShape());
      NDArray b = m.create(ab[1].toFloatArray(), ab[1].getShape());
      copy.put(k, new NDArray[] {a, b});
    });
    return new LoraAdapter(config, m, copy, baseModelName);
  }

  // ---------------------------------------------------------------- PEFT format

  /** Writes {@code adapter_config.json} and {@code adapter_model.safetensors} as PEFT 0.21 does. */
  public void savePeft(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.write(dir.resolve(CONFIG_FILE), configJson());
    Files.write(dir.resolve(WEIGHTS_FILE), weightsBytes());
  }

  /** The safetensors file PEFT would write (metadata format=pt, float32). */
  public byte[] weightsBytes() {
    return Safetensors.toBytes(parameters(), Map.of("format", "pt"));
  }

  /** {@code adapter_config.json} with the fields, order and types PEFT 0.21 writes. */
  public byte[] configJson() throws IOException {
    ObjectNode n = JSON.createObjectNode();
    n.putNull("alora_invocation_tokens");
    n.putObject("alpha_pattern");
    n.putNull("arrow_config");
    n.putNull("auto_mapping");
    if (baseModelName == null) {
      n.putNull("base_model_name_or_path");
    } else {
      n.put("base_model_name_or_path", baseModelName);
    }
    n.put("bias", "none");
    n.putNull("corda_config");
    n.put("ensure_weight_tying", false);
    n.putNull("eva_config");
    n.putNull("exclude_modules");
    n.put("fan_in_fan_out", false);
    n.put("inference_mode", true);
    n.put("init_lora_weights", true);
    n.putNull("kasa_config");
    n.putNull("layer_replication");
    n.putNull("layers_pattern");
    n.putNull("layers_to_transform");
    n.putObject("loftq_config");
    if (config.alpha() == Math.rint(config.alpha())) {
      n.put("lora_alpha", (long) config.alpha());
    } else {
      n.put("lora_alpha", config.alpha());
    }
    n.put("lora_bias", false);
    n.put("lora_dropout", config.dropout());
    n.putNull("lora_ga_config");
    n.putNull("megatron_config");
    n.put("megatron_core", "megatron.core");
    n.putNull("modules_to_save");
    n.putNull("monteclora_config");
    n.put("peft_type", "LORA");
    n.put("peft_version", "0.21.0"); // the PEFT release whose format this matches
    n.put("qalora_group_size", 16);
    n.put("r", config.r());
    n.putObject("rank_pattern");
    n.putNull("revision");
    config.targetModules().forEach(n.putArray("target_modules")::add);
    n.putNull("target_parameters");
    n.put("task_type", "CAUSAL_LM");
    n.putNull("trainable_token_indices");
    n.putNull("use_bdlora");
    n.put("use_dora", false);
    n.put("use_qalora", false);
    n.put("use_rslora", config.useRslora());
    n.putNull("velora_config");
    return JSON.writeValueAsBytes(n);
  }

  /** The adapter as one byte array (a zip holding PEFT's two files), e.g. for a Kafka record. */
  public byte[] toBytes() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      zip.putNextEntry(new ZipEntry(CONFIG_FILE));
      zip.write(configJson());
      zip.closeEntry();
      zip.putNextEntry(new ZipEntry(WEIGHTS_FILE));
      zip.write(weightsBytes());
      zip.closeEntry();
    }
    return bytes.toByteArray();
  }

  /** Reads an adapter PEFT saved (or {@link #savePeft}); checks it against {@code model} when given. */
  public static LoraAdapter loadPeft(Path dir, LlamaConfig model, NDManager parent) throws IOException {
    Path cfg = dir.resolve(CONFIG_FILE);
    Path weights = dir.resolve(WEIGHTS_FILE);
    if (!Files.isRegularFile(cfg)) {
      throw new NoSuchFileException(cfg.toString(), null, "adapter config not found");
    }
    if (!Files.isRegularFile(weights)) {
      if (Files.isRegularFile(dir.resolve("adapter_model.bin"))) {
        throw new IOException(dir + ": adapter_model.bin (pickle) is not supported; save with safe_serialization");
      }
      throw new NoSuchFileException(weights.toString(), null, "adapter weights not found");
    }
    return fromParts(Files.readAllBytes(cfg), Files.readAllBytes(weights), model, parent, dir.toString());
  }

  /** Inverse of {@link #toBytes()}. */
  public static LoraAdapter fromBytes(byte[] bytes, LlamaConfig model, NDManager parent) throws IOException {
    byte[] cfg = null;
    byte[] weights = null;
    try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(bytes))) {
      for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
        if (e.getName().equals(CONFIG_FILE)) {
          cfg = zip.readAllBytes();
        } else if (e.getName().equals(WEIGHTS_FILE)) {
          weights = zip.readAllBytes();
        }
      }
    }
    if (cfg == null || weights == null) {
      throw new IOException("adapter bytes lack " + (cfg == null ? CONFIG_FILE : WEIGHTS_FILE));
    }
    return fromParts(cfg, weights, model, parent, "adapter bytes");
  }

  private static LoraAdapter fromParts(byte[] cfgBytes, byte[] weights, LlamaConfig model, NDManager parent,
      String where) throws IOException {
    JsonNode c = JSON.readTree(cfgBytes);
    if (!"LORA".equals(c.path("peft_type").asText())) {
      throw new IOException(where + ": peft_type " + c.path("peft_type") + " is not LORA");
    }
    for (String flag : new String[] {"use_dora", "fan_in_fan_out", "lora_bias", "use_qalora"}) {
      if (c.path(flag).asBoolean(false)) {
        throw new IOException(where + ": " + flag + " is not supported");
      }
    }
    if (!c.path("bias").asText("none").equals("none")) {
      throw new IOException(where + ": bias '" + c.path("bias").asText() + "' is not supported");
    }
    if (c.path("rank_pattern").size() > 0 || c.path("alpha_pattern").size() > 0) {
      throw new IOException(where + ": rank_pattern / alpha_pattern are not supported");
    }
    if (c.path("modules_to_save").isArray() && c.path("modules_to_save").size() > 0) {
      throw new IOException(where + ": modules_to_save is not supported");
    }
    List<String> targets = new ArrayList<>();
    JsonNode t = c.path("target_modules");
    if (t.isArray()) {
      t.forEach(x -> targets.add(x.asText()));
    }
    NDManager m = parent.newSubManager();
    try {
      Map<String, NDArray> tensors = Safetensors.read(weights, m);
      Map<String, NDArray[]> modules = new TreeMap<>(LoraAdapter::compareModules);
      for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
        Matcher mt = KEY.matcher(e.getKey());
        if (!mt.matches()) {
          throw new IOException(where + ": unexpected tensor " + e.getKey());
        }
        if (!t.isArray() && !targets.contains(mt.group(3))) {
          targets.add(mt.group(3)); // target_modules given as a regex: take the modules from the keys
        }
        modules.computeIfAbsent(mt.group(1), k -> new NDArray[2])[mt.group(4).equals("A") ? 0 : 1] = e.getValue();
      }
      int r = c.path("r").asInt(8);
      LoraConfig config = new LoraConfig(r, c.path("lora_alpha").asDouble(8), c.path("lora_dropout").asDouble(0),
          targets, c.path("use_rslora").asBoolean(false));
      for (Map.Entry<String, NDArray[]> e : modules.entrySet()) {
        NDArray[] ab = e.getValue();
        if (ab[0] == null || ab[1] == null) {
          throw new IOException(where + ": " + e.getKey() + " has only one of lora_A / lora_B");
        }
        String mod = e.getKey().substring(e.getKey().lastIndexOf('.') + 1);
        int layer = Integer.parseInt(e.getKey().split("\\.")[2]);
        long[] sa = ab[0].getShape().getShape();
        long[] sb = ab[1].getShape().getShape();
        if (sa.length != 2 || sb.length != 2 || sa[0] != r || sb[1] != r) {
          throw new IOException(where + ": " + e.getKey() + " A " + ab[0].getShape() + " B " + ab[1].getShape()
              + " do not have rank " + r);
        }
        if (model != null) {
          int[] io = model.projectionShape(mod);
          if (layer >= model.numLayers() || sa[1] != io[0] || sb[0] != io[1]) {
            throw new IOException(where + ": " + e.getKey() + " A " + ab[0].getShape() + " B " + ab[1].getShape()
                + " do not fit the model (layer < " + model.numLayers() + ", in " + io[0] + ", out " + io[1] + ")");
          }
        }
      }
      String base = c.path("base_model_name_or_path").isTextual() ? c.get("base_model_name_or_path").asText() : null;
      return new LoraAdapter(config, m, modules, base);
    } catch (IOException | RuntimeException ex) {
      m.close();
      throw ex;
    }
  }

  /** Little-endian float32 bytes of every tensor in key order; for fingerprints of an adapter. */
  public byte[] rawBytes() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    parameters().values().forEach(a -> {
      ByteBuffer b = a.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      byte[] x = new byte[b.remaining()];
      b.get(x);
      out.writeBytes(x);
    });
    return out.toByteArray();
  }

  private static int compareModules(String x, String y) {
    String[] a = x.split("\\.");
    String[] b = y.split("\\.");
    int c = Integer.compare(Integer.parseInt(a[2]), Integer.parseInt(b[2]));
    if (c != 0) {
      return c;
    }
    return Integer.compare(LoraConfig.ALL_MODULES.indexOf(a[4]), LoraConfig.ALL_MODULES.indexOf(b[4]));
  }

  @Override
  public void close() {
    manager.close();
  }
}
