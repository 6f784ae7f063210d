package dev.oppu.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One JSON object a command prints as a line, written by Jackson; fields in the order they are put. Every JSON line
 * the command line and the benchmarks print is one of these (or a map given to Jackson), never a format string.
 */
public final class JsonOut {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Map<String, Object> fields = new LinkedHashMap<>();

  public static JsonOut object() {
    return new JsonOut();
  }

  public JsonOut put(String key, Object value) {
    fields.put(key, value);
    return this;
  }

  /** A number rounded to {@code decimals} places (non-finite numbers as null: JSON has no NaN). */
  public JsonOut put(String key, double value, int decimals) {
    fields.put(key, Double.isFinite(value)
        ? BigDecimal.valueOf(value).setScale(decimals, RoundingMode.HALF_UP).doubleValue() : null);
    return this;
  }

  /** A number rounded to {@code digits} significant digits (non-finite numbers as null), as {@code %.<digits-1>e}. */
  public JsonOut putSignificant(String key, double value, int digits) {
    fields.put(key, Double.isFinite(value)
        ? BigDecimal.valueOf(value).round(new MathContext(digits, RoundingMode.HALF_UP)).doubleValue() : null);
    return this;
  }

  @Override
  public String toString() {
    try {
      return JSON.writeValueAsString(fields);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
