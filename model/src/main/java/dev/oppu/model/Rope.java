package dev.oppu.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Rotary embedding parameters as transformers' {@code modeling_rope_utils} reads them, from either config form: the
 * older top-level {@code rope_theta} with a {@code rope_scaling} object, or transformers 5's {@code rope_parameters}.
 *
 * @param type "default", "linear" (positions divided by {@code factor}) or "llama3" (Llama 3.1's frequency bands)
 * @param lowFreqFactor llama3 only; wavelengths above originalMax / lowFreqFactor are divided by {@code factor}
 * @param highFreqFactor llama3 only; wavelengths below originalMax / highFreqFactor stay; between them, a blend
 * @param originalMaxPositions llama3 only: the context the base frequencies were trained for
 */
public record Rope(String type, double theta, double factor, double lowFreqFactor, double highFreqFactor,
    int originalMaxPositions) {

  public Rope {
    switch (type) {
      case "default", "linear" -> { }
      case "llama3" -> {
        if (factor <= 0 || lowFreqFactor <= 0 || highFreqFactor <= lowFreqFactor || originalMaxPositions <= 0) {
          throw new IllegalArgumentException("llama3 rope needs factor > 0, 0 < low_freq_factor < high_freq_factor"
              + " and original_max_position_embeddings > 0, got " + factor + "/" + lowFreqFactor + "/"
              + highFreqFactor + "/" + originalMaxPositions);
        }
      }
      default -> throw new IllegalArgumentException("unsupported rope type '" + type
          + "' (supported: default, linear, llama3)");
    }
  }

  /** Plain rotary embedding with base {@code theta}. */
  public static Rope plain(double theta) {
    return new Rope("default", theta, 1.0, 0, 0, 0);
  }

  /** Llama 3.1's scaling (Llama-3.1/3.2 ship factor 8, low 1, high 4, original 8192). */
  public static Rope llama3(double theta, double factor, double low, double high, int originalMax) {
    return new Rope("llama3", theta, factor, low, high, originalMax);
  }

  /** Reads the rope of a config.json; {@code rope_parameters} wins over {@code rope_theta} + {@code rope_scaling}. */
  static Rope fromJson(JsonNode n) {
    double theta = n.path("rope_theta").asDouble(10000.0);
    JsonNode p = n.path("rope_parameters");
    if (!p.isObject()) {
      p = n.path("rope_scaling");
    }
    if (!p.isObject()) {
      return plain(theta);
    }
    theta = p.path("rope_theta").asDouble(theta);
    // transformers 4.x wrote the type as "type"; "rope_type" since
    String type = p.path("rope_type").asText(p.path("type").asText("default"));
    if (p.path("partial_rotary_factor").asDouble(1.0) != 1.0) {
      throw new IllegalArgumentException("partial_rotary_factor is not supported");
    }
    return new Rope(type, theta, p.path("factor").asDouble(1.0), p.path("low_freq_factor").asDouble(0),
        p.path("high_freq_factor").asDouble(0), p.path("original_max_position_embeddings").asInt(0));
  }

  /** Writes {@code rope_parameters} (transformers 5) and the top-level {@code rope_theta} older versions read. */
  void toJson(ObjectNode n) {
    ObjectNode rope = n.putObject("rope_parameters");
    rope.put("rope_theta", theta);
    rope.put("rope_type", type);
    if (!type.equals("default")) {
      rope.put("factor", factor);
    }
    if (type.equals("llama3")) {
      rope.put("low_freq_factor", lowFreqFactor);
      rope.put("high_freq_factor", highFreqFactor);
      rope.put("original_max_position_embeddings", originalMaxPositions);
    }
    n.put("rope_theta", theta);
  }

  /**
   * Applies the scaling to the plain inverse frequencies 1 / theta^(2i/d), in float32 as transformers does
   * ({@code _compute_linear_scaling_rope_parameters}, {@code _compute_llama3_parameters}).
   */
  float[] scale(float[] inv) {
    float[] out = inv.clone();
    if (type.equals("linear")) {
      for (int i = 0; i < out.length; i++) {
        out[i] = inv[i] / (float) factor;
      }
    } else if (type.equals("llama3")) {
      float f = (float) factor;
      float lowWavelen = (float) (originalMaxPositions / lowFreqFactor);
      float highWavelen = (float) (originalMaxPositions / highFreqFactor);
      for (int i = 0; i < out.length; i++) {
        float wavelen = (float) (2 * Math.PI) / inv[i];
        float scaled = wavelen > lowWavelen ? inv[i] / f : inv[i]; // long wavelengths: interpolate positions
        if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
          // the band between: blend scaled and unscaled by where the wavelength lies
          float smooth = (float) ((originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor));
          scaled = (1 - smooth) * scaled / f + smooth * scaled;
        }
        out[i] = scaled;
      }
    }
    return out;
  }

  @Override
  public String toString() {
    // "default"/"linear" keep the form LlamaConfig.toString had before llama3 (model fingerprints hash it)
    String s = type + "x" + factor;
    return type.equals("llama3") ? s + "(low=" + lowFreqFactor + ", high=" + highFreqFactor + ", original="
        + originalMaxPositions + ")" : s;
  }
}
