package dev.oppu.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Samples VmRSS of one process from {@code /proc/PID/status} (the soak's streams + trainer process). */
final class SoakRssSampler {

/** One RSS sample. */
record Sample(long atNanos, long rssKb) {}

  private final Path status;
  private final long periodMillis;
  private final List<Sample> samples = new ArrayList<>();
  private volatile boolean running = true;
  private Thread thread;

  SoakRssSampler(long pid, double periodSeconds) {
    this.status = Path.of("/proc", Long.toString(pid), "status");
    this.periodMillis = Math.max(100, (long) (periodSeconds * 1000));
  }

  void start() {
    thread = new Thread(() -> {
      while (running) {
        long kb = readRssKb();
        if (kb > 0) {
          synchronized (samples) {
            samples.add(new Sample(System.nanoTime(), kb));
          }
        }
        try {
          Thread.sleep(periodMillis);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "soak-rss");
    thread.setDaemon(true);
    thread.start();
  }

  private long readRssKb() {
    try {
      for (String line : Files.readAllLines(status)) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // the process is gone
    }
    return -1;
  }

  long lastKb() {
    synchronized (samples) {
      return samples.isEmpty() ? 0 : samples.get(samples.size() - 1).rssKb;
    }
  }

  void stop() throws InterruptedException {
    running = false;
    thread.interrupt();
    thread.join(5000);
    long kb = readRssKb();
    if (kb > 0) {
      synchronized (samples) {
        samples.add(new Sample(System.nanoTime(), kb));
      }
    }
  }

  List<Sample> samples() {
    synchronized (samples) {
      return new ArrayList<>(samples);
    }
  }
}
