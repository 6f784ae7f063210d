package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code --device} and {@code --dtype} (issue 12): one default on every command that runs a model, and what cannot run
 * is refused at start with what is missing, never silently replaced. This machine has no GPU, so the GPU cases of the
 * rule are tested on given engine facts ({@link DeviceOptions#refusal}); the CPU cases and the missing GPU also
 * through the real commands.
 */
class DeviceOptionsTest {
  private static final DeviceOptions.Engines CPU_BUILD = new DeviceOptions.Engines(0, false, "2.7.1");
  private static final DeviceOptions.Engines CUDA_NO_DEVICE = new DeviceOptions.Engines(0, true, "2.7.1");
  private static final DeviceOptions.Engines ONE_GPU = new DeviceOptions.Engines(1, true, "2.7.1");

  /** The commands that run a model, each with the arguments it needs to reach its start (a model is never read). */
  private static final Map<String, String[]> MODEL_COMMANDS = new TreeMap<>(Map.ofEntries(
      Map.entry("run streams", new String[] {"run", "streams"}),
      Map.entry("run trainer", new String[] {"run", "trainer"}),
      Map.entry("demo", new String[] {"demo"}),
      Map.entry("replay", new String[] {"replay", "--task", "LaMP_2M", "--users", "none.json"}),
      Map.entry("adapt-task", new String[] {"adapt-task"}),
      Map.entry("pretrain", new String[] {"pretrain"}),
      Map.entry("model check", new String[] {"model", "check", "--model", "none", "--reference", "none"}),
      Map.entry("bench model", new String[] {"bench", "model"}),
      Map.entry("bench train", new String[] {"bench", "train"}),
      Map.entry("bench serve", new String[] {"bench", "serve"}),
      Map.entry("bench personalize", new String[] {"bench", "personalize"}),
      Map.entry("bench shift", new String[] {"bench", "shift"}),
      Map.entry("bench soak", new String[] {"bench", "soak"}),
      Map.entry("bench load", new String[] {"bench", "load"})));

  @Test
  void float32OnCpuOrGpuRuns() {
    for (String device : List.of("auto", "cpu")) {
      assertNull(DeviceOptions.refusal(device, "float32", CPU_BUILD));
    }
    for (String device : List.of("auto", "cpu", "gpu")) {
      assertNull(DeviceOptions.refusal(device, "float32", ONE_GPU));
    }
    assertNull(DeviceOptions.refusal(null, null, CPU_BUILD), "the defaults run anywhere");
  }

  @Test
  void gpuWithoutAGpuSaysWhatIsMissing() {
    String cpuBuild = DeviceOptions.refusal("gpu", "float32", CPU_BUILD);
    assertTrue(cpuBuild.startsWith("--device gpu: no GPU visible to DJL's PyTorch engine: this build ships the CPU "
        + "native library (pytorch-native-cpu 2.7.1); install a CUDA build of PyTorch 2.7.1's native library for DJL"
        + " 0.36"), cpuBuild);
    assertTrue(cpuBuild.contains("PYTORCH_LIBRARY_PATH"), cpuBuild);
    String cudaBuild = DeviceOptions.refusal("gpu", "float32", CUDA_NO_DEVICE);
    assertTrue(cudaBuild.contains("is a CUDA build, but no CUDA device is visible"), cudaBuild);
  }

  @Test
  void halfPrecisionIsRefusedWithTheReasonOfItsDevice() {
    for (String dtype : List.of("bfloat16", "float16")) {
      for (String device : List.of("auto", "cpu")) {
        String onCpu = DeviceOptions.refusal(device, dtype, CPU_BUILD);
        assertTrue(onCpu.startsWith("--dtype " + dtype + " on CPU: refused, DJL 0.36's PyTorch engine aborts the JVM"
            + " on bfloat16 and float16 matmul is about 100 times slower"), onCpu);
      }
      assertTrue(DeviceOptions.refusal("cpu", dtype, ONE_GPU).contains("on CPU: refused"));
      for (String device : List.of("auto", "gpu")) {
        String onGpu = DeviceOptions.refusal(device, dtype, ONE_GPU);
        assertTrue(onGpu.startsWith("--dtype " + dtype + " on GPU: refused, the model computes in float32 only"),
            onGpu);
      }
    }
  }

  @Test
  void unknownValuesAreRefused() {
    assertTrue(DeviceOptions.refusal("tpu", "float32", CPU_BUILD).startsWith("unknown --device 'tpu'"));
    assertTrue(DeviceOptions.refusal("cpu", "int8", CPU_BUILD).startsWith("unknown --dtype 'int8'"));
  }

  @Test
  void everyCommandThatRunsAModelTakesBothOptionsWithOneDefault() {
    CommandLine root = new CommandLine(new Main());
    Map<String, String> devices = new TreeMap<>();
    Map<String, String> dtypes = new TreeMap<>();
    collect(root, "", devices, dtypes);
    assertTrue(devices.keySet().containsAll(MODEL_COMMANDS.keySet()), "without --device: " + missing(devices));
    assertTrue(dtypes.keySet().containsAll(MODEL_COMMANDS.keySet()), "without --dtype: " + missing(dtypes));
    for (Map.Entry<String, String> e : devices.entrySet()) {
      assertEquals("auto", e.getValue(), e.getKey() + " --device");
      assertEquals("float32", dtypes.get(e.getKey()), e.getKey() + " --dtype");
    }
  }

  @Test
  void everyCommandThatRunsAModelRefusesHalfPrecisionOnCpuAtStart() {
    assertEquals(0, Engine.getInstance().getGpuCount(), "this test expects a machine without a GPU");
    for (Map.Entry<String, String[]> e : MODEL_COMMANDS.entrySet()) {
      for (String dtype : List.of("bfloat16", "float16")) {
        SystemHarness.Run r = SystemHarness.run(new Main(), SystemHarness.concat(e.getValue(), "--dtype", dtype));
        assertEquals(2, r.code(), e.getKey() + ": " + r.out() + r.err());
        assertTrue(r.err().contains("--dtype " + dtype + " on CPU: refused, DJL 0.36's PyTorch engine aborts the JVM"),
            e.getKey() + ": " + r.err());
      }
    }
  }

  @Test
  void everyCommandThatRunsAModelRefusesAMissingGpuAtStart() {
    assertEquals(0, Engine.getInstance().getGpuCount(), "this test expects a machine without a GPU");
    for (Map.Entry<String, String[]> e : MODEL_COMMANDS.entrySet()) {
      SystemHarness.Run r = SystemHarness.run(new Main(), SystemHarness.concat(e.getValue(), "--device", "gpu"));
      assertEquals(2, r.code(), e.getKey() + ": " + r.out() + r.err());
      // the first thing printed, before the command's usage
      assertTrue(r.err().startsWith("--device gpu: no GPU visible to DJL's PyTorch engine: this build ships the CPU"
          + " native library (pytorch-native-cpu 2.7.1)"), e.getKey() + ": " + r.err());
    }
  }

  private static List<String> missing(Map<String, String> have) {
    List<String> m = new ArrayList<>(MODEL_COMMANDS.keySet());
    m.removeAll(have.keySet());
    return m;
  }

  private static void collect(CommandLine cl, String prefix, Map<String, String> devices, Map<String, String> dtypes) {
    for (Map.Entry<String, CommandLine> sub : cl.getSubcommands().entrySet()) {
      String name = (prefix + " " + sub.getKey()).trim();
      OptionSpec device = sub.getValue().getCommandSpec().findOption("--device");
      OptionSpec dtype = sub.getValue().getCommandSpec().findOption("--dtype");
      if (device != null) {
        devices.put(name, device.defaultValue());
      }
      if (dtype != null) {
        dtypes.put(name, dtype.defaultValue());
      }
      collect(sub.getValue(), name, devices, dtypes);
    }
  }
}
