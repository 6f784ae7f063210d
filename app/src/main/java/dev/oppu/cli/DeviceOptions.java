package dev.oppu.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import dev.oppu.system.OppuSystem;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Where and in what precision the model computes ({@code @Mixin DeviceOptions device}), on every command that runs a
 * model, with one default each: {@code --device} {@value OppuSystem#DEFAULT_DEVICE} and {@code --dtype}
 * {@value OppuSystem#DEFAULT_DTYPE}. A command calls {@link #device()} (or {@link #djlDevice()}) before it loads a
 * model; a combination that cannot run is refused there, with what is missing, and never silently replaced:
 * <ul>
 *   <li>{@code --device gpu} where DJL's PyTorch engine sees no GPU;
 *   <li>{@code --dtype float16|bfloat16} anywhere: on CPU, DJL 0.36 aborts the JVM on bfloat16 and float16 matmul is
 *       about 100 times slower; on a GPU, the model computes in float32 only (checkpoints are converted to float32 as
 *       they are read, and LoRA, the KV cache and training are float32), so it could not honour them.
 * </ul>
 */
public final class DeviceOptions {

  /** The values of {@code --dtype}; only float32 runs (see the class comment). */
  public static final List<String> DTYPES = List.of("float32", "float16", "bfloat16");
  public static final List<String> DEVICES = List.of("auto", "cpu", "gpu");

  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

  @Option(names = "--device", paramLabel = "DEVICE", defaultValue = OppuSystem.DEFAULT_DEVICE,
      description = "auto (a GPU when DJL sees one, else the CPU), cpu or gpu (default: ${DEFAULT-VALUE}).")
  String device = OppuSystem.DEFAULT_DEVICE;

  @Option(names = "--dtype", paramLabel = "DTYPE", defaultValue = OppuSystem.DEFAULT_DTYPE,
      description = "Precision the model computes in: float32 (default: ${DEFAULT-VALUE}). float16 and bfloat16 are "
          + "refused: on CPU DJL 0.36 aborts the JVM on bfloat16 and float16 matmul is ~100x slower; on a GPU the "
          + "model computes in float32 only.")
  String dtype = OppuSystem.DEFAULT_DTYPE;

  /** What DJL's engine offers: the GPUs it sees and whether its native library is a CUDA build. */
  public record Engines(int gpuCount, boolean cuda, String pytorchVersion) {
    /** The engine of this JVM (loads DJL's PyTorch engine). */
    public static Engines current() {
      Engine e = Engine.getInstance();
      return new Engines(e.getGpuCount(), e.hasCapability(StandardCapabilities.CUDA), e.getVersion());
    }
  }

  /**
   * Why {@code device} and {@code dtype} cannot run on {@code engines}, or null when they can. Pure, so the refusals
   * are testable on a machine without a GPU.
   */
  public static String refusal(String device, String dtype, Engines engines) {
    String dev = device == null ? OppuSystem.DEFAULT_DEVICE : device.toLowerCase(Locale.ROOT);
    String dt = dtype == null ? OppuSystem.DEFAULT_DTYPE : dtype.toLowerCase(Locale.ROOT);
    if (!DEVICES.contains(dev)) {
      return "unknown --device '" + device + "': one of auto, cpu, gpu";
    }
    if (!DTYPES.contains(dt)) {
      return "unknown --dtype '" + dtype + "': float32 (float16 and bfloat16 are known but refused)";
    }
    if (dev.equals("gpu") && engines.gpuCount() == 0) {
      String why = engines.cuda()
          ? "the loaded PyTorch " + engines.pytorchVersion() + " native library is a CUDA build, but no CUDA device"
              + " is visible (NVIDIA driver for CUDA 12.8? CUDA_VISIBLE_DEVICES?)"
          : "this build ships the CPU native library (pytorch-native-cpu " + engines.pytorchVersion() + "); install"
              + " a CUDA build of PyTorch 2.7.1's native library for DJL 0.36 (pytorch-native-cu128) or point"
              + " PYTORCH_LIBRARY_PATH at a CUDA libtorch 2.7.1, as README's model section says";
      return "--device gpu: no GPU visible to DJL's PyTorch engine: " + why + "; or run with --device cpu or auto";
    }
    boolean onGpu = dev.equals("gpu") || (dev.equals("auto") && engines.gpuCount() > 0);
    if (!dt.equals("float32")) {
      if (onGpu) {
        return "--dtype " + dt + " on GPU: refused, the model computes in float32 only (checkpoints are converted"
            + " to float32 as they are read; LoRA, the KV cache and training are float32), so it cannot honour "
            + dt + "; use --dtype float32";
      }
      return "--dtype " + dt + " on CPU: refused, DJL 0.36's PyTorch engine aborts the JVM on bfloat16 and float16"
          + " matmul is about 100 times slower than float32 on CPU; use --dtype float32 (the default)";
    }
    return null;
  }

  /** The device name ({@code auto}, {@code cpu} or {@code gpu}), after refusing what cannot run. */
  public String device() {
    check();
    return device.toLowerCase(Locale.ROOT);
  }

  /** float32: the only precision that runs (others are refused by {@link #device()}). */
  public String dtype() {
    return dtype.toLowerCase(Locale.ROOT);
  }

  /** The DJL device to create the model's NDManager on, after refusing what cannot run. */
  public Device djlDevice() {
    return dev.oppu.model.TaskModels.device(device());
  }

  /** Refuses what cannot run, as a usage error of the command (exit code 2, the message, the usage). */
  public void check() {
    String dev = device == null ? "" : device.toLowerCase(Locale.ROOT);
    String dt = dtype == null ? "" : dtype.toLowerCase(Locale.ROOT);
    // Only ask the engine (loading its native library) when the answer depends on it.
    boolean needsEngine = DEVICES.contains(dev) && DTYPES.contains(dt) && (dev.equals("gpu") || !dt.equals("float32"));
    String refusal = refusal(device, dtype, needsEngine ? Engines.current() : new Engines(0, false, "?"));
    if (refusal != null) {
      if (command != null && command.commandLine() != null) {
        throw new ParameterException(command.commandLine(), refusal);
      }
      throw new IllegalArgumentException(refusal);
    }
  }
}
