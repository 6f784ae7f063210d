package dev.oppu.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's resident memory as the Linux kernel counts it ({@code /proc/self/status}), and its peak since a
 * reset: how loading a checkpoint is measured (peak while loading minus resident just before). Elsewhere the
 * figures are -1 and the reset reports false.
 */
public final class ResidentMemory {

  private ResidentMemory() {
  }

  /** kB of a field of this process's status (VmRSS: resident now, VmHWM: peak), or -1 where there is none. */
  public static long statusKb(String field) {
    Path status = Path.of("/proc/self/status");
    if (!Files.isReadable(status)) {
      return -1;
    }
    try {
      for (String line : Files.readAllLines(status)) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.replaceAll("\\D", ""));
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }

  /** Resident bytes now, or -1. */
  public static long rssBytes() {
    long kb = statusKb("VmRSS");
    return kb < 0 ? -1 : kb * 1024;
  }

  /** Peak resident bytes since the last {@link #resetPeak} (or the start), or -1. */
  public static long peakBytes() {
    long kb = statusKb("VmHWM");
    return kb < 0 ? -1 : kb * 1024;
  }

  /** Resets the peak to the current resident size (Linux 4.0+, {@code /proc/self/clear_refs} "5"); false if not. */
  public static boolean resetPeak() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
      return true;
    } catch (IOException | SecurityException e) {
      return false;
    }
  }

  /**
   * Collects garbage and waits {@code millis} for the collector to hand freed heap back to the system (G1 does so in
   * the background after a full collection), so that a measurement that follows starts from a settled process.
   */
  public static void settle(long millis) {
    System.gc();
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
